module harness.local/ci/runc-nosysresource

go 1.22
