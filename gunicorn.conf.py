"""gunicorn settings for `make serve`, from the environment only.

Logging: gunicorn's access log is off; the portal writes one access line per request itself
(with the request id, route pattern and duration, never the raw path or query string). In
production gunicorn's own messages are JSON lines too, like the portal's.
"""

import os

from gunicorn.glogging import Logger

bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
accesslog = None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

if os.environ.get("PORTAL_ENV") == "production" and os.environ.get("LOG_FORMAT", "json") == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "portal.logs.json_formatter"}},
        "handlers": {
            "gunicorn_json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        # The root logger is the portal's (portal/logs.py installs its handler in each worker).
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["gunicorn_json"], "propagate": False},
        },
    }


class PortalLogger(Logger):
    """gunicorn's logger without its access line (``accesslog`` unset, as here). With
    ``logconfig_dict`` set, stock gunicorn still builds and logs an access record per request
    (about 5 % of a verification's CPU), only for nobody to print it."""

    def access(self, resp, req, environ, request_time):
        if self.cfg.accesslog:
            super().access(resp, req, environ, request_time)


logger_class = PortalLogger


def child_exit(server, worker):
    """A worker is gone: with PROMETHEUS_MULTIPROC_DIR, drop its live gauges from /metrics."""
    from portal.metrics import mark_process_dead

    mark_process_dead(worker.pid)
