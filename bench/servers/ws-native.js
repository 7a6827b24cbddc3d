'use strict';

// The bench server on ws-native, this repository (see ws-app.js).
require('./ws-app')(require('../..').WebSocketServer);
