"""Explanation as a service (EaaS): the logged explainer served by MLflow's scoring server.

``deployment`` records what is deployed, ``checks`` decides whether a server is fit to take
traffic, ``backend`` is the interface of the places a server runs, ``process`` / ``docker``
implement it, and ``redeploy`` picks the backend, the explainer to serve, and switches blue/green.
"""
