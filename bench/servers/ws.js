'use strict';

// The bench server on the npm `ws` package (see ws-app.js).
require('./ws-app')(require('ws').WebSocketServer);
