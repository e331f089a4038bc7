"""gunicorn settings for the portal: `.venv/bin/gunicorn 'app:create_app()'` reads this file.

Every value can be overridden on the command line (e.g. `-b unix:/run/edc.sock`, `-w 4`).
Environment: HOST and PORT (default 127.0.0.1:5000, for a reverse proxy on the same machine),
WEB_CONCURRENCY (worker processes; default 2 x cores + 1, at most 8).
"""

from __future__ import annotations

import os

host = os.environ.get("HOST") or "127.0.0.1"
port = os.environ.get("PORT") or "5000"
bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]

# Synchronous workers: each request holds one worker, so a few per core. Each worker keeps its
# own small pool of database connections: mind PostgreSQL's max_connections.
workers = int(os.environ.get("WEB_CONCURRENCY") or min(2 * (os.cpu_count() or 1) + 1, 8))
# A request taking longer than this is stuck: the worker is killed and replaced.
timeout = 30
# On a restart (HUP, deploy), requests under way get this long to finish.
graceful_timeout = 30
# Behind a reverse proxy that keeps connections open to us.
keepalive = 5
# A worker is replaced after this many requests (give or take), so no slow leak lasts.
max_requests = 2000
max_requests_jitter = 200
# Each worker builds its own app, its own database engine: no connection crosses a fork.
preload_app = False

# Proxy headers are the app's business alone (EDC_TRUSTED_PROXIES, werkzeug's ProxyFix): gunicorn
# itself believes no X-Forwarded-* / SCRIPT_NAME header from anyone, not even from 127.0.0.1.
forwarded_allow_ips = ""
proxy_allow_ips = ""
# No control socket in the home directory: nothing to manage at run time but signals.
control_socket_disable = True

# The access log goes to stderr with the path only: a query string can carry a token or what
# someone searched for (a name), and so can the Referer, which is left out too. %(h)s is the
# peer (the proxy, when there is one); the application log names the real client.
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = "info"
