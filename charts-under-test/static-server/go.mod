module helm-e2e-harness/static-server

go 1.25.0
