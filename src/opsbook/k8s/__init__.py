"""Kubernetes manifests generated from the facts, and their offline checks.

    workloads.py  facts -> Workload (what each service needs on a cluster)
    images.py     the image each service runs: the ones the Compose sandbox builds
    manifests.py  Workload -> Kubernetes objects (plain dicts)
    overlays.py   the Kustomize base and the kind, staging and production overlays
    generate.py   the tree as text, writing it, detecting drift
    validate.py   every object against the Kubernetes OpenAPI schemas, offline
    kubectl.py    running kubectl (kustomize, argument checks) with timeouts
    commands.py   the kubectl commands on the pages, parsed by kubectl itself
"""
