import { protocolSuite } from '../shared/protocol.suite.js';

protocolSuite({ describe, it });
