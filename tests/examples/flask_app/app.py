"""The Flask example: a view that enqueues a task and answers at once.

    gunicorn -c gunicorn.conf.py app:app
"""

from flask import Flask, jsonify
from tasks import count_visit, queue

app = Flask(__name__)


@app.post("/pages/<page>/visit")
def visit(page):
    job_id = count_visit.delay(page)
    return jsonify(job=job_id), 202


@app.get("/pages/<page>")
def show(page):
    visits = queue.client.hget(f"example:{queue.prefix}:visits", page)
    return jsonify(page=page, visits=int(visits or 0))
