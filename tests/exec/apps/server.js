// SPDX-License-Identifier: MIT
// The Node server the exec handler's tests pool: it serves the listening
// socket preforkd passes as fd 3 (LISTEN_FDS=1).
'use strict';
const http = require('http');

if (process.env.LISTEN_FDS !== '1' || process.env.LISTEN_PID !== String(process.pid)) {
    console.error('server.js: expected one socket for this process (LISTEN_FDS, LISTEN_PID)');
    process.exit(1);
}
const server = http.createServer((req, res) => {
    const body = `pid=${process.pid} slot=${process.env.PREFORKD_SLOT} generation=${process.env.PREFORKD_GENERATION}\n`;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
});
server.listen({ fd: 3 }, () => console.log(`server.js: serving on fd 3 as pid ${process.pid}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
