// The CommonJS types (index.d.ts, @types/ws's index.d.ts) for esm.mts: as
// an ES module sees a library whose own types are CommonJS.
import WebSocket = require("ws-native");
import WS = require("ws");

export { WebSocket, WS };
