"""crashhub: the central crash host for a fleet of Linux servers.

The pipeline shows in the sub-packages: ``ingest`` → ``dump`` → ``triage`` →
``classify`` → ``kb`` → ``debuginfo`` / ``analyze`` → ``store`` / ``web``;
``agent`` runs on the hosts.  Every stage has a pure core (bytes or models in,
models out) with files, processes and the network kept at the edges.
"""

__version__ = "0.1.0"
