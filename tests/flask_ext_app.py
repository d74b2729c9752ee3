"""A Flask app using gjobs.contrib.flask, for ``flask --app tests.flask_ext_app gjobs worker``."""

import os

from flask import Flask, current_app

import gjobs
from gjobs.contrib.flask import GJobs

app = Flask(__name__)
app.config.update(GJOBS_URL=os.environ["REDIS_URL"], GJOBS_PREFIX=os.environ["GJOBS_PREFIX"],
                  GREETING="hello from the app")
extension = GJobs(app)


@gjobs.task
def greet(name):
    """Needs the app context: it reads the app's config through ``current_app``."""
    queue = current_app.extensions["gjobs"].queue
    queue.client.rpush(f"{queue.prefix}:greetings", f"{current_app.config['GREETING']}, {name}")
