import { describe, it } from 'node:test';
import { protocolSuite } from '../shared/protocol.suite.js';

protocolSuite({ describe, it });
