# octoprobe: `make run` (the main job on the reference cloud) and `make test`
# (the project's own tests). Both install what is missing, and only that.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

# Debian packages the project uses:
#   ceph-*          the reference cloud's real Ceph daemons and CLI
#   python3-rados/rbd  librados/librbd bindings (for Debian's python3)
#   iproute2        namespaces, bridges, veth (the underlay)
#   procps, psmisc  process inspection when cleaning up
#   python3-venv    `python3 -m venv` on a stock Debian python
#   dnsmasq-base    DHCP and router advertisements of tenant networks (no system-wide service)
#   nftables        security groups, NAT and floating IPs
#   busybox         udhcpc in the test endpoints that stand in for VMs
#   iperf3          network throughput (the perf suite; bench/network_overlay.py)
#   fio             storage throughput: its rbd engine against RBD images, and inside guests
#   qemu-system-x86, qemu-block-extra  the VMs, and QEMU's rbd block driver
#   genisoimage, cpio, e2fsprogs       the config drive, the guest's initramfs and root image
#   qemu-utils                         qemu-img: the image API converts qcow2 uploads to raw once
DEBIAN_PACKAGES := ceph-mon ceph-mgr ceph-osd ceph-common python3-rados python3-rbd python3-venv \
                   iproute2 iputils-ping procps psmisc dnsmasq-base nftables busybox iperf3 \
                   qemu-system-x86 qemu-block-extra qemu-utils genisoimage cpio e2fsprogs fio

# only for `make test`: the HTML report is checked in a real headless browser;
# the SSH fault driver is pointed at an sshd inside a reference-cloud host
TEST_DEBIAN_PACKAGES := chromium openssh-server openssh-client

PYTEST_ARGS ?=
# `make run KEEP=1` leaves the reference cloud up (else it is brought down and its data deleted,
# a few GB after the chaos suite); RUN_ARGS go to `octoprobe run`
KEEP ?=
RUN_ARGS ?=

.PHONY: run test unit integration deps debs test-debs venv down clean

run: deps
	$(VENV)/bin/octoprobe cloud up
	$(VENV)/bin/octoprobe cloud status
	status=0; $(VENV)/bin/octoprobe run all --cloud octoprobe --admin-cloud octoprobe-admin \
	    --alt-cloud octoprobe-alt --profile reference $(RUN_ARGS) || status=$$?; \
	if [ -z "$(KEEP)" ]; then $(VENV)/bin/octoprobe cloud down --purge; \
	else echo "the reference cloud stays up (KEEP=1): \`make down\` stops it"; fi; \
	exit $$status

# the API tests and the rest run side by side (tools/run-tests); PYTEST_ARGS go to both
test: deps test-debs
	$(VENV)/bin/python tools/run-tests $(PYTEST_ARGS)

unit: venv
	$(VENV)/bin/python -m pytest tests/unit $(PYTEST_ARGS)

integration: deps test-debs
	$(VENV)/bin/python -m pytest tests/integration $(PYTEST_ARGS)

down: venv
	$(VENV)/bin/octoprobe cloud down

deps: debs venv

debs:
	@tools/ensure-debian-packages $(DEBIAN_PACKAGES)

test-debs:
	@tools/ensure-debian-packages $(TEST_DEBIAN_PACKAGES)

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	@touch $@

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
