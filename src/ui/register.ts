/** Entry of the script-tag bundle (dist/live-chat.js): loading it registers `<live-chat>`. */
import { defineLiveChat } from './define.js';

defineLiveChat();
