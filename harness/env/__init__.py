"""The environment a scenario runs in: the kind cluster (:mod:`harness.env.cluster`) and the add-ons
(:mod:`harness.env.addons`: the edge, PostgreSQL, cert-manager), set up once and torn down at the end."""
