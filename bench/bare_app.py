"""The baseline for bench/load.py: a bare Flask endpoint served by the same gunicorn settings."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/ping")
def ping():
    return jsonify(status="ok")
