#!/usr/bin/env node
// The built command (npm run build makes dist/).
require('../dist/main.js');
