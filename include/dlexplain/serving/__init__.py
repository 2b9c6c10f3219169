"""Explanation as a service (EaaS): the logged explainer served by MLflow's scoring server.

``deployment`` records what is deployed, ``checks`` decides whether a server is fit to take
traffic, ``backends`` holds the interface and the blue/green ``redeploy``, and ``process`` /
``docker`` run the scoring server as a local process or as a Docker container.
"""
