# Deployment and CI checks. Included from the root Makefile:
#
#   include deploy/deploy.mk
#
#   make lint-deploy      validate deploy/ offline (Kubernetes + KEDA schemas, compose, Dockerfile)
#   make test-deploy      the validator's tests and the architecture-docs gate's tests
#   make test-gate        the gate's tests only
#   make arch-docs-gate   run the gate on this checkout (ARCH_DOCS_BASE=origin/main by default)
#
# The first lint-deploy or test-deploy creates .venv from deploy/requirements.txt (PyPI);
# later runs need no network.

DEPLOY_MK_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
ARCH_DOCS_BASE ?=

.PHONY: lint-deploy test-deploy test-validate-deploy test-gate arch-docs-gate

lint-deploy:
	bash "$(DEPLOY_MK_ROOT)/deploy/validate.sh"

test-validate-deploy:
	bash "$(DEPLOY_MK_ROOT)/deploy/tests/test_validate.sh"

test-gate:
	bash "$(DEPLOY_MK_ROOT)/.github/scripts/tests/test_check_arch_docs_gate.sh"

test-deploy:
	bash "$(DEPLOY_MK_ROOT)/deploy/tests/run_all.sh"

arch-docs-gate:
	bash "$(DEPLOY_MK_ROOT)/.github/scripts/check_arch_docs_gate.sh" $(ARCH_DOCS_BASE)
