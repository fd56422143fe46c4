# SPDX-License-Identifier: MIT
# The ASGI application the exec handler's tests run under uvicorn --fd 3.
import os


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = "pid={} slot={} generation={}\n".format(
        os.getpid(), os.environ.get("PREFORKD_SLOT", "?"), os.environ.get("PREFORKD_GENERATION", "?")).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
