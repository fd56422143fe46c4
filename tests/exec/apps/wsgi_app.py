# SPDX-License-Identifier: MIT
# The WSGI application the exec handler's tests run under gunicorn: every
# answer names the process that served it and the preforkd slot its
# gunicorn arbiter was started for.
import os


def application(environ, start_response):
    body = "pid={} arbiter={} slot={} generation={}\n".format(
        os.getpid(), os.getppid(), os.environ.get("PREFORKD_SLOT", "?"),
        os.environ.get("PREFORKD_GENERATION", "?")).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
