"""A tiny WSGI application.

``GET /enqueue?value=V[&pause=S]`` enqueues ``tasks.record(V, S)`` and answers with the job id;
``GET /results`` answers with the values recorded so far.
"""

import json
from urllib.parse import parse_qs

import tasks


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    params = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/enqueue" and "value" in params:
        pause = float(params.get("pause", ["0"])[0])
        status, body = "202 Accepted", {"id": tasks.record.delay(params["value"][0], pause)}
    elif path == "/results":
        status, body = "200 OK", {"results": tasks.results()}
    else:
        status, body = "404 Not Found", {"error": "try /enqueue?value=V or /results"}
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
