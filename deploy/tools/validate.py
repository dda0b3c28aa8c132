#!/usr/bin/env python3
"""Offline validation of deploy/: Kubernetes manifests, KEDA objects, compose, Dockerfile.

Run through deploy/validate.sh, which provides the pinned Python environment. Checks, in order:

1. Renders deploy/k8s/base and every deploy/k8s/overlays/* (kustomize, kubectl kustomize,
   or tools/kustomize_lite.py).
2. Validates every rendered object of a core kind against the Kubernetes JSON schemas that
   the kubernetes-validate package ships, strictly (an unknown field is an error), for
   each Kubernetes version in --k8s-versions.
3. Validates ScaledObject and TriggerAuthentication against deploy/schemas/keda-*.json,
   then what a schema cannot say: each ScaledObject's queue is ingest.<SOURCE> of the
   Deployment it scales, minReplicaCount <= maxReplicaCount <= the source's cap in
   deploy/schemas/scaling-policy.json, its authenticationRef exists.
4. Cross-checks every workload against the design contract (deploy/schemas/env-contract.json):
   environment names, secrets only by secretKeyRef to a Secret and key listed in
   deploy/k8s/secrets.example.yaml, probes, resources, securityContext, Services, PDBs,
   Ingress backends, ports and addresses.
5. deploy/compose.yaml: parses, builds from Dockerfiles and targets that exist, depends on
   services that exist, and gives each binary the environment it needs.
6. hadolint on deploy/docker/Dockerfile, shellcheck on the shell scripts (when installed).

Prints one line per problem and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlparse

import jsonschema
import yaml
from referencing import Registry, Resource

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kustomize_lite  # noqa: E402

KEDA_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda-scaledobject.schema.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda-triggerauthentication.schema.json",
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
PLACEHOLDER = "REPLACE_ME"


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    checked: int = 0

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"FAIL {where}: {message}")


# ---------------------------------------------------------------- rendering


def pick_renderer(choice: str) -> str:
    if choice != "auto":
        return choice
    if shutil.which("kustomize"):
        return "kustomize"
    if shutil.which("kubectl"):
        return "kubectl"
    return "python"


def render(directory: Path, renderer: str) -> list[dict]:
    if renderer == "python":
        return kustomize_lite.build(directory)
    command = ["kustomize", "build", str(directory)] if renderer == "kustomize" else ["kubectl", "kustomize", str(directory)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise kustomize_lite.RenderError(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return kustomize_lite.load_all(result.stdout)


# ---------------------------------------------------------------- schemas


def schema_path(error: jsonschema.ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def best_message(error: jsonschema.ValidationError) -> str:
    # For oneOf/anyOf failures the deepest sub-error usually names the real mistake.
    if error.context:
        deepest = max(error.context, key=lambda e: len(list(e.absolute_path)))
        if len(list(deepest.absolute_path)) > len(list(error.absolute_path)):
            return f"{schema_path(deepest)}: {deepest.message}"
    return f"{schema_path(error)}: {error.message}"


class K8sSchemas:
    """Strict JSON schemas of the kubernetes-validate package, loaded once per kind."""

    def __init__(self) -> None:
        import importlib_resources
        from packaging.version import Version

        self._root = importlib_resources.files("kubernetes_validate") / "kubernetes-json-schema"
        self._versions = sorted(
            (p.name[1:].split("-")[0] for p in self._root.iterdir() if re.match(r"^v[0-9.]+-local-strict$", p.name)),
            key=Version,
        )
        self._Version = Version

    def resolve(self, wanted: str) -> str:
        """The newest shipped schema version not newer than `wanted` (e.g. 1.30 -> 1.30.0)."""
        mm = self._Version(wanted)
        usable = [v for v in self._versions if self._Version(".".join(v.split(".")[:2])) <= mm]
        if not usable:
            raise SystemExit(f"kubernetes-validate has no schemas for Kubernetes {wanted} (it has {self._versions[0]} to {self._versions[-1]})")
        return usable[-1]

    @functools.lru_cache(maxsize=None)
    def _json(self, version: str, filename: str) -> Any:
        return json.loads((self._root / f"v{version}-local-strict" / filename).read_text())

    @functools.lru_cache(maxsize=None)
    def validator(self, version: str, api_version: str, kind: str) -> jsonschema.Validator | None:
        api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        try:
            schema = self._json(version, f"{kind.lower()}-{api}.json")
        except FileNotFoundError:
            return None
        registry = Resource.from_contents(schema) @ Registry()
        registry = Resource.from_contents(self._json(version, "_definitions.json")) @ registry
        return jsonschema.Draft202012Validator(schema, registry=registry)


def keda_validator(schemas_dir: Path, filename: str) -> jsonschema.Validator:
    schema = json.loads((schemas_dir / filename).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


# ---------------------------------------------------------------- helpers


def ident(obj: dict) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def pod_spec(obj: dict) -> dict:
    return kustomize_lite.pod_spec(obj) or {}


def pod_labels(obj: dict) -> dict:
    path = kustomize_lite.POD_SPEC_PATHS.get(obj.get("kind"), ())[:-1]
    node: Any = obj
    for part in path:
        node = (node or {}).get(part)
    return ((node or {}).get("metadata") or {}).get("labels") or {}


def selects(selector: dict, labels: dict) -> bool:
    match = (selector or {}).get("matchLabels", selector or {})
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def binary_of(image: str) -> str:
    name, _, _ = kustomize_lite.split_image(image)
    return name.rsplit("/", 1)[-1]


def addr_port(value: str) -> int | None:
    m = re.search(r":(\d+)$", value or "")
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- Kubernetes checks


@dataclass
class Contract:
    env: dict
    policy: dict
    secrets: dict[str, set[str]]


def load_secret_catalogue(path: Path, schemas: K8sSchemas, versions: list[str], report: Report) -> dict[str, set[str]]:
    where = str(path)
    if not path.is_file():
        report.fail(where, "missing: it lists the Secrets and keys the manifests may reference")
        return {}
    try:
        docs = kustomize_lite.load_all(path.read_text())
    except yaml.YAMLError as e:
        report.fail(where, f"not valid YAML: {e}")
        return {}
    catalogue: dict[str, set[str]] = {}
    for doc in docs:
        validate_core(doc, f"{where} {ident(doc)}", schemas, versions, report)
        if doc.get("kind") != "Secret":
            report.fail(f"{where} {ident(doc)}", "only Secrets belong in the example")
            continue
        if doc.get("data"):
            report.fail(f"{where} {ident(doc)}", "use stringData with placeholders, not data")
        for key, value in (doc.get("stringData") or {}).items():
            if PLACEHOLDER not in str(value):
                report.fail(f"{where} {ident(doc)}", f"value of {key!r} has no {PLACEHOLDER}: the example must hold placeholders only, never a real secret")
        catalogue[doc["metadata"]["name"]] = set(doc.get("stringData") or {}) | set(doc.get("data") or {})
    return catalogue


def validate_core(obj: dict, where: str, schemas: K8sSchemas, versions: list[str], report: Report) -> None:
    if not isinstance(obj, dict) or "apiVersion" not in obj or "kind" not in obj:
        report.fail(where, "not a Kubernetes object (apiVersion and kind are required)")
        return
    for wanted in versions:
        version = schemas.resolve(wanted)
        validator = schemas.validator(version, obj["apiVersion"], obj["kind"])
        if validator is None:
            report.fail(where, f"no Kubernetes {wanted} schema for {obj['apiVersion']} {obj['kind']} (a typo in apiVersion or kind?)")
            return
        errors = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
        for error in errors:
            report.fail(where, f"Kubernetes {wanted} schema: {best_message(error)}")
        if errors:
            return  # the same mistakes would repeat for every version
    report.checked += 1


def check_rendered(name: str, objects: list[dict], contract: Contract, schemas: K8sSchemas, versions: list[str], keda: dict, report: Report, strict_images: bool) -> None:
    by_kind: dict[str, list[dict]] = {}
    seen = set()
    for obj in objects:
        where = f"{name} {ident(obj)}"
        key = (obj.get("kind"), (obj.get("metadata") or {}).get("namespace"), (obj.get("metadata") or {}).get("name"))
        if key in seen:
            report.fail(where, "defined twice")
        seen.add(key)
        by_kind.setdefault(obj.get("kind"), []).append(obj)
        keda_schema = keda.get((obj.get("apiVersion"), obj.get("kind")))
        if keda_schema is not None:
            errors = sorted(keda_schema.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
            for error in errors:
                report.fail(where, f"KEDA schema: {best_message(error)}")
            if not errors:
                report.checked += 1
        elif obj.get("apiVersion", "").startswith("keda.sh/"):
            report.fail(where, "only ScaledObject and TriggerAuthentication are used from KEDA")
        else:
            validate_core(obj, where, schemas, versions, report)
        if obj.get("kind") == "Secret" and (obj.get("data") or obj.get("stringData")):
            report.fail(where, "a Secret with data is rendered: secrets are referenced, never shipped (see deploy/k8s/secrets.example.yaml)")

    config_maps = {o["metadata"]["name"]: o.get("data") or {} for o in by_kind.get("ConfigMap", [])}
    service_accounts = {o["metadata"]["name"] for o in by_kind.get("ServiceAccount", [])}
    services = {o["metadata"]["name"]: o for o in by_kind.get("Service", [])}
    workloads = [o for o in objects if o.get("kind") in WORKLOAD_KINDS]
    deployments = {o["metadata"]["name"]: o for o in by_kind.get("Deployment", [])}
    trigger_auths = {o["metadata"]["name"]: o for o in by_kind.get("TriggerAuthentication", [])}

    for cm_name, data in config_maps.items():
        for key in data:
            if key not in contract.env["variables"]:
                report.fail(f"{name} ConfigMap/{cm_name}", f"key {key!r} is not an environment variable of the design contract")

    for obj in workloads:
        check_workload(name, obj, contract, config_maps, service_accounts, services, report, strict_images)

    # Services select pods and name ports that exist.
    for svc_name, svc in services.items():
        where = f"{name} Service/{svc_name}"
        selector = (svc.get("spec") or {}).get("selector") or {}
        targets = [w for w in workloads if selects(selector, pod_labels(w))]
        if not targets:
            report.fail(where, f"selector {selector} matches no workload's pods")
            continue
        ports = {p.get("name") for w in targets for c in pod_spec(w).get("containers") or [] for p in c.get("ports") or []}
        numbers = {p.get("containerPort") for w in targets for c in pod_spec(w).get("containers") or [] for p in c.get("ports") or []}
        for port in (svc.get("spec") or {}).get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if target not in ports and target not in numbers:
                report.fail(where, f"targetPort {target!r} is not a container port of the selected pods")

    # Every Deployment has a PodDisruptionBudget; every PDB selects something.
    pdbs = by_kind.get("PodDisruptionBudget", [])
    for pdb in pdbs:
        if not any(selects((pdb.get("spec") or {}).get("selector"), pod_labels(w)) for w in workloads):
            report.fail(f"{name} {ident(pdb)}", "selector matches no workload's pods")
    for dep_name, dep in deployments.items():
        if not any(selects((p.get("spec") or {}).get("selector"), pod_labels(dep)) for p in pdbs):
            report.fail(f"{name} Deployment/{dep_name}", "no PodDisruptionBudget covers it")

    # Ingress backends exist.
    for ing in by_kind.get("Ingress", []):
        for rule in (ing.get("spec") or {}).get("rules") or []:
            for path in ((rule.get("http") or {}).get("paths")) or []:
                backend = ((path.get("backend") or {}).get("service")) or {}
                svc = services.get(backend.get("name"))
                where = f"{name} {ident(ing)}"
                if svc is None:
                    report.fail(where, f"backend Service {backend.get('name')!r} does not exist")
                    continue
                port = backend.get("port") or {}
                svc_ports = (svc.get("spec") or {}).get("ports") or []
                if not any(port.get("name") == p.get("name") if "name" in port else port.get("number") == p.get("port") for p in svc_ports):
                    report.fail(where, f"backend port {port} is not a port of Service/{backend.get('name')}")

    check_keda(name, by_kind, deployments, trigger_auths, contract, report)


def env_sources(container: dict, config_maps: dict) -> dict[str, dict]:
    """Effective environment of a container: name -> its definition (envFrom first, env wins)."""
    out: dict[str, dict] = {}
    for src in container.get("envFrom") or []:
        ref = (src.get("configMapRef") or {}).get("name")
        for key, value in (config_maps.get(ref) or {}).items():
            out[key] = {"name": key, "value": value, "from": f"ConfigMap/{ref}"}
    for var in container.get("env") or []:
        out[var.get("name")] = var
    return out


def check_workload(name: str, obj: dict, contract: Contract, config_maps: dict, service_accounts: set, services: dict, report: Report, strict_images: bool) -> None:
    where = f"{name} {ident(obj)}"
    spec = pod_spec(obj)
    variables = contract.env["variables"]
    pod_sc = spec.get("securityContext") or {}
    sa = spec.get("serviceAccountName")
    if sa and sa not in service_accounts:
        report.fail(where, f"serviceAccountName {sa!r} is not a ServiceAccount of the rendered set")
    if (pod_sc.get("seccompProfile") or {}).get("type") not in {"RuntimeDefault", "Localhost"}:
        report.fail(where, "pod securityContext.seccompProfile.type must be RuntimeDefault")
    volumes = {v.get("name") for v in spec.get("volumes") or []}
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        cwhere = f"{where} container {container.get('name')}"
        image = container.get("image") or ""
        binary = binary_of(image)
        if strict_images:
            _, tag, digest = kustomize_lite.split_image(image)
            if not digest and (not tag or tag == "latest"):
                report.fail(cwhere, f"image {image!r} must be pinned to a version (not latest, not untagged)")
        sc = container.get("securityContext") or {}
        if not (sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True):
            report.fail(cwhere, "securityContext.runAsNonRoot must be true")
        if sc.get("readOnlyRootFilesystem") is not True:
            report.fail(cwhere, "securityContext.readOnlyRootFilesystem must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            report.fail(cwhere, "securityContext.allowPrivilegeEscalation must be false")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            report.fail(cwhere, "securityContext.capabilities.drop must include ALL")
        resources = container.get("resources") or {}
        for section in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if res not in (resources.get(section) or {}):
                    report.fail(cwhere, f"resources.{section}.{res} is not set")
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") not in volumes:
                report.fail(cwhere, f"volumeMount {mount.get('name')!r} has no volume")

        port_names = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
        port_numbers = set(port_names.values())
        if obj["kind"] == "Deployment":
            check_probes(cwhere, binary, container, port_names, port_numbers, report)

        if binary not in contract.env["binaries"]:
            report.fail(cwhere, f"image {image!r} is none of the project's binaries {contract.env['binaries']}")
            continue
        env = env_sources(container, config_maps)
        for src in container.get("envFrom") or []:
            ref = (src.get("configMapRef") or {}).get("name")
            if src.get("secretRef"):
                report.fail(cwhere, "envFrom secretRef hides which secrets a container gets: use env with secretKeyRef")
            elif ref not in config_maps:
                report.fail(cwhere, f"envFrom ConfigMap {ref!r} does not exist")
        for var_name, var in env.items():
            meta = variables.get(var_name)
            if meta is None:
                report.fail(cwhere, f"environment variable {var_name!r} is not in the design contract (a typo?)")
                continue
            if meta.get("forbidden"):
                report.fail(cwhere, f"{var_name} must never be set in a deployment: {meta['forbidden']}")
            if binary not in meta["used_by"] and "from" not in var:
                report.fail(cwhere, f"{var_name} is not read by {binary} (used by {', '.join(meta['used_by'])})")
            value_from = var.get("valueFrom") or {}
            if meta.get("secret"):
                if "secretKeyRef" not in value_from:
                    report.fail(cwhere, f"{var_name} is a secret: take it from a Secret with secretKeyRef, never a literal or a ConfigMap")
            secret_ref = value_from.get("secretKeyRef")
            if secret_ref:
                keys = contract.secrets.get(secret_ref.get("name"))
                if keys is None:
                    report.fail(cwhere, f"{var_name}: Secret {secret_ref.get('name')!r} is not listed in deploy/k8s/secrets.example.yaml")
                elif secret_ref.get("key") not in keys:
                    report.fail(cwhere, f"{var_name}: key {secret_ref.get('key')!r} is not in Secret {secret_ref.get('name')!r} (deploy/k8s/secrets.example.yaml)")
            cm_ref = value_from.get("configMapKeyRef")
            if cm_ref:
                if cm_ref.get("name") not in config_maps:
                    report.fail(cwhere, f"{var_name}: ConfigMap {cm_ref.get('name')!r} does not exist")
                elif cm_ref.get("key") not in config_maps[cm_ref.get("name")]:
                    report.fail(cwhere, f"{var_name}: key {cm_ref.get('key')!r} is not in ConfigMap {cm_ref.get('name')!r}")
        for var_name in [v for v, m in variables.items() if binary in m.get("required_by", [])]:
            if var_name not in env:
                report.fail(cwhere, f"{binary} needs {var_name}")
        for group in contract.env.get("one_of_required", {}).get(binary, []):
            if not any(v in env for v in group):
                report.fail(cwhere, f"{binary} needs one of {', '.join(group)}")
        log_format = (env.get("LOG_FORMAT") or {}).get("value")
        if log_format != "json":
            report.fail(cwhere, f"LOG_FORMAT must be json in Kubernetes (is {log_format!r})")
        for var_name in ("CONTROL_GRPC_ADDR", "METRICS_ADDR", "GATEWAY_ADDR"):
            value = (env.get(var_name) or {}).get("value")
            if value is not None and addr_port(value) not in port_numbers:
                report.fail(cwhere, f"{var_name}={value} listens on a port the container does not declare")
        url = (env.get("CONTROL_GRPC_URL") or {}).get("value")
        if url:
            parsed = urlparse(url)
            svc = services.get((parsed.hostname or "").split(".")[0])
            if svc is None:
                report.fail(cwhere, f"CONTROL_GRPC_URL={url}: no Service {parsed.hostname!r}")
            elif parsed.port not in {p.get("port") for p in (svc.get("spec") or {}).get("ports") or []}:
                report.fail(cwhere, f"CONTROL_GRPC_URL={url}: Service/{svc['metadata']['name']} has no port {parsed.port}")
        if binary == "source-fetcher":
            check_fetcher(where, obj, env, contract, report)


def check_probes(where: str, binary: str, container: dict, port_names: dict, port_numbers: set, report: Report) -> None:
    for kind in ("livenessProbe", "readinessProbe"):
        probe = container.get(kind)
        if not probe:
            report.fail(where, f"{kind} is missing")
            continue
        handler = probe.get("grpc") or probe.get("httpGet") or probe.get("tcpSocket") or {}
        port = handler.get("port")
        if port not in port_numbers and port not in port_names:
            report.fail(where, f"{kind} probes port {port!r}, which the container does not declare")
        resolved = port_names.get(port, port)
        if binary == "ingestion-control":
            if "grpc" not in probe or resolved != 50051:
                report.fail(where, f"{kind} must be a gRPC probe on 50051 (grpc.health.v1)")
        elif binary in {"gateway", "source-fetcher"}:
            want_path = "/healthz" if kind == "livenessProbe" else "/readyz"
            want_port = 8080 if binary == "gateway" else 9090
            got = probe.get("httpGet") or {}
            if got.get("path") != want_path or resolved != want_port:
                report.fail(where, f"{kind} must be httpGet {want_path} on {want_port}")


def check_fetcher(where: str, obj: dict, env: dict, contract: Contract, report: Report) -> None:
    source = (env.get("SOURCE") or {}).get("value")
    sources = contract.policy["sources"]
    if source not in sources:
        report.fail(where, f"SOURCE={source!r} is not one of {', '.join(sources)}")
        return
    if obj["kind"] != "Deployment":
        return
    expected = sources[source]["k8s_name"]
    if obj["metadata"]["name"] != expected:
        report.fail(where, f"the {source} fetcher Deployment must be named {expected}")
    if "replicas" in (obj.get("spec") or {}):
        report.fail(where, "must not set spec.replicas: its ScaledObject owns the replica count (a fixed value is reset on every apply)")
    grace = pod_spec(obj).get("terminationGracePeriodSeconds", 30)
    if grace < 60:
        report.fail(where, f"terminationGracePeriodSeconds {grace} is too short to finish a page and store its checkpoint (>= 60)")


def check_keda(name: str, by_kind: dict, deployments: dict, trigger_auths: dict, contract: Contract, report: Report) -> None:
    scaled = by_kind.get("ScaledObject", [])
    targeted: dict[str, list[str]] = {}
    for so in scaled:
        where = f"{name} {ident(so)}"
        spec = so.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        if ref.get("kind", "Deployment") != "Deployment":
            report.fail(where, "scaleTargetRef must be a Deployment")
            continue
        target = deployments.get(ref.get("name"))
        if target is None:
            report.fail(where, f"scaleTargetRef.name {ref.get('name')!r} is not a Deployment of the rendered set")
            continue
        targeted.setdefault(ref["name"], []).append(so["metadata"]["name"])
        containers = pod_spec(target).get("containers") or []
        container = next((c for c in containers if c.get("name") == ref.get("envSourceContainerName")), containers[0] if containers else {})
        source = next((e.get("value") for e in container.get("env") or [] if e.get("name") == "SOURCE"), None)
        if source is None:
            report.fail(where, f"Deployment/{ref['name']} has no SOURCE env: cannot tell which queue it consumes")
        minimum = spec.get("minReplicaCount", 0)
        maximum = spec.get("maxReplicaCount", 100)
        if isinstance(minimum, int) and isinstance(maximum, int) and minimum > maximum:
            report.fail(where, f"minReplicaCount {minimum} > maxReplicaCount {maximum}")
        idle = spec.get("idleReplicaCount")
        if idle is not None and isinstance(minimum, int) and idle >= minimum:
            report.fail(where, f"idleReplicaCount {idle} must be less than minReplicaCount {minimum}")
        cap = (contract.policy["sources"].get(source) or {}).get("max_replicas")
        if cap is not None and isinstance(maximum, int) and maximum > cap:
            report.fail(where, f"maxReplicaCount {maximum} exceeds what {source}'s rate limit can feed ({cap}: {contract.policy['sources'][source]['why']}); see deploy/schemas/scaling-policy.json")
        for i, trigger in enumerate(spec.get("triggers") or []):
            meta = trigger.get("metadata") or {}
            if source is not None and meta.get("queueName") != f"ingest.{source}":
                report.fail(where, f"triggers[{i}].metadata.queueName {meta.get('queueName')!r} is not the queue of Deployment/{ref['name']} (SOURCE={source}: ingest.{source})")
            auth = (trigger.get("authenticationRef") or {}).get("name")
            if auth not in trigger_auths:
                report.fail(where, f"triggers[{i}].authenticationRef {auth!r} is not a TriggerAuthentication of the rendered set")
    for dep_name, dep in deployments.items():
        containers = pod_spec(dep).get("containers") or []
        is_fetcher = any(binary_of(c.get("image", "")) == "source-fetcher" for c in containers)
        owners = targeted.get(dep_name, [])
        if is_fetcher and len(owners) != 1:
            report.fail(f"{name} Deployment/{dep_name}", f"a fetcher needs exactly one ScaledObject (has {len(owners)})")
    for ta_name, ta in trigger_auths.items():
        for ref in ((ta.get("spec") or {}).get("secretTargetRef")) or []:
            keys = contract.secrets.get(ref.get("name"))
            if keys is None or ref.get("key") not in keys:
                report.fail(f"{name} TriggerAuthentication/{ta_name}", f"secretTargetRef {ref.get('name')}/{ref.get('key')} is not listed in deploy/k8s/secrets.example.yaml")
    missing = set(contract.policy["sources"]) - {
        next((e.get("value") for c in pod_spec(d).get("containers") or [] for e in c.get("env") or [] if e.get("name") == "SOURCE"), None)
        for d in deployments.values()
    }
    if missing:
        report.fail(name, f"no fetcher Deployment for source(s) {', '.join(sorted(missing))}")


# ---------------------------------------------------------------- compose

COMPOSE_TOP = {"name", "services", "volumes", "networks", "configs", "secrets", "include", "version"}
COMPOSE_SERVICE_KEYS = set(
    """annotations attach blkio_config build cap_add cap_drop cgroup cgroup_parent command configs
    container_name cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpu_shares
    cpus cpuset credential_spec depends_on deploy develop device_cgroup_rules devices dns dns_opt
    dns_search domainname entrypoint env_file environment expose extends external_links extra_hosts
    gpus group_add healthcheck hostname image init ipc isolation labels label_file links logging
    mac_address mem_limit mem_reservation mem_swappiness memswap_limit models network_mode networks
    oom_kill_disable oom_score_adj pid pids_limit platform ports post_start pre_stop privileged
    profiles provider pull_policy read_only restart runtime scale secrets security_opt shm_size
    stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits use_api_socket
    user userns_mode uts volumes volumes_from working_dir""".split()
)
DEPENDS_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def dockerfile_targets(path: Path) -> set[str]:
    return {m.group(1) for m in re.finditer(r"(?im)^\s*FROM\s+\S+\s+AS\s+([A-Za-z0-9_.-]+)\s*$", path.read_text())}


def check_compose(tree: Path, contract: Contract, report: Report) -> None:
    path = tree / "deploy" / "compose.yaml"
    where = "deploy/compose.yaml"
    if not path.is_file():
        report.fail(where, "missing")
        return
    try:
        doc = yaml.load(path.read_text(), Loader=kustomize_lite.SafeLoader)
    except yaml.YAMLError as e:
        report.fail(where, f"not valid YAML: {e}")
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
        report.fail(where, "needs a services: mapping")
        return
    for key in doc:
        if key not in COMPOSE_TOP and not str(key).startswith("x-"):
            report.fail(where, f"unknown top-level key {key!r}")
    services: dict = doc["services"]
    variables = contract.env["variables"]
    sources_seen = set()
    host_ports: dict[str, str] = {}
    for svc_name, svc in services.items():
        swhere = f"{where} service {svc_name}"
        if not isinstance(svc, dict):
            report.fail(swhere, "must be a mapping")
            continue
        for key in svc:
            if key not in COMPOSE_SERVICE_KEYS and not str(key).startswith("x-"):
                report.fail(swhere, f"unknown key {key!r} (a typo?)")
        if "image" not in svc and "build" not in svc:
            report.fail(swhere, "needs image or build")
        binary = None
        build = svc.get("build")
        if build is not None:
            build = {"context": build} if isinstance(build, str) else build
            context = (path.parent / str(build.get("context", "."))).resolve()
            if not context.is_dir():
                report.fail(swhere, f"build context {build.get('context')!r} does not exist")
            else:
                dockerfile = context / str(build.get("dockerfile", "Dockerfile"))
                if not dockerfile.is_file():
                    report.fail(swhere, f"Dockerfile {build.get('dockerfile', 'Dockerfile')!r} does not exist in the build context")
                elif build.get("target") and build["target"] not in dockerfile_targets(dockerfile):
                    report.fail(swhere, f"build target {build['target']!r} is not a stage of {dockerfile.relative_to(tree) if dockerfile.is_relative_to(tree) else dockerfile}")
                else:
                    binary = build.get("target")
        deps = svc.get("depends_on") or {}
        deps = {d: {"condition": "service_started"} for d in deps} if isinstance(deps, list) else deps
        for dep, spec in deps.items():
            if dep not in services:
                report.fail(swhere, f"depends_on {dep!r}, which is not a service")
                continue
            condition = (spec or {}).get("condition", "service_started")
            if condition not in DEPENDS_CONDITIONS:
                report.fail(swhere, f"depends_on {dep}: unknown condition {condition!r}")
            if condition == "service_healthy" and not (services.get(dep) or {}).get("healthcheck"):
                report.fail(swhere, f"depends_on {dep} being healthy, but {dep} has no healthcheck")
        for port in svc.get("ports") or []:
            published = str(port).rsplit(":", 1)[0] if ":" in str(port) else None
            if published:
                if published in host_ports:
                    report.fail(swhere, f"host port {published} is also published by {host_ports[published]}")
                host_ports[published] = svc_name
        if binary not in contract.env["binaries"]:
            continue
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
        for var_name, value in env.items():
            meta = variables.get(var_name)
            if meta is None:
                report.fail(swhere, f"environment variable {var_name!r} is not in the design contract (a typo?)")
                continue
            if meta.get("forbidden"):
                report.fail(swhere, f"{var_name} must never be set in a deployment: {meta['forbidden']}")
            if binary not in meta["used_by"] and var_name not in {"RUST_LOG", "LOG_FORMAT", "OTEL_EXPORTER_OTLP_ENDPOINT"}:
                report.fail(swhere, f"{var_name} is not read by {binary}")
            if meta.get("secret") and "${" not in str(value):
                report.fail(swhere, f"{var_name} must come from the environment (${{{var_name}...}}), never a literal in the file")
        for var_name in [v for v, m in variables.items() if binary in m.get("required_by", [])]:
            if var_name not in env:
                report.fail(swhere, f"{binary} needs {var_name}")
        for group in contract.env.get("one_of_required", {}).get(binary, []):
            if not any(v in env for v in group):
                report.fail(swhere, f"{binary} needs one of {', '.join(group)}")
        if binary == "source-fetcher":
            source = env.get("SOURCE")
            if source not in contract.policy["sources"]:
                report.fail(swhere, f"SOURCE={source!r} is not one of {', '.join(contract.policy['sources'])}")
            sources_seen.add(source)
    missing = set(contract.policy["sources"]) - sources_seen
    if missing:
        report.fail(where, f"no fetcher service for source(s) {', '.join(sorted(missing))}")
    built = [(s.get("build") or {}).get("target") for s in services.values() if isinstance(s, dict) and isinstance(s.get("build"), dict)]
    for needed in ("ingestion-control", "gateway"):
        if needed not in built:
            report.fail(where, f"no service builds {needed}")
    if not any((s.get("command") or [None])[0] == "migrate" for s in services.values() if isinstance(s, dict)):
        report.fail(where, "no one-shot migrations service (command: [migrate])")
    report.checked += 1

    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        env_file = tree / "deploy" / ".env.example"
        cmd = ["docker", "compose", "-f", str(path)] + (["--env-file", str(env_file)] if env_file.is_file() else []) + ["config", "--quiet"]
        result = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "JWT_SECRET": "x", "WORKER_TOKEN": "x"})
        if result.returncode != 0:
            report.fail(where, f"docker compose config: {result.stderr.strip()}")


# ---------------------------------------------------------------- linters


def run_linters(tree: Path, tools_bin: Path, report: Report) -> None:
    hadolint = shutil.which("hadolint", path=str(tools_bin)) or shutil.which("hadolint")
    dockerfiles = sorted((tree / "deploy" / "docker").glob("Dockerfile*"))
    if not dockerfiles:
        report.fail("deploy/docker", "no Dockerfile")
    if hadolint:
        config = tree / "deploy" / "docker" / "hadolint.yaml"
        for dockerfile in dockerfiles:
            cmd = [hadolint] + (["--config", str(config)] if config.is_file() else []) + [str(dockerfile)]
            result = subprocess.run(cmd, capture_output=True, text=True)
            for line in (result.stdout + result.stderr).strip().splitlines():
                report.fail(f"hadolint {dockerfile.relative_to(tree)}", line)
            report.checked += 1
    shellcheck = shutil.which("shellcheck", path=str(tools_bin)) or shutil.which("shellcheck")
    scripts = sorted(p for d in ("deploy", ".github") for p in (tree / d).rglob("*.sh") if ".venv" not in p.parts)
    if shellcheck and scripts:
        result = subprocess.run([shellcheck, "--format=gcc", "--severity=warning"] + [str(s) for s in scripts], capture_output=True, text=True, cwd=tree)
        for line in result.stdout.strip().splitlines():
            report.fail("shellcheck", line)
        report.checked += len(scripts)


# ---------------------------------------------------------------- main


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[2], help="repository root to validate")
    parser.add_argument("--renderer", choices=["auto", "kustomize", "kubectl", "python"], default=os.environ.get("DEPLOY_RENDERER", "auto"))
    parser.add_argument("--k8s-versions", default=os.environ.get("K8S_VERSIONS", "1.30,1.37"), help="comma-separated Kubernetes versions to validate against")
    parser.add_argument("--no-lint", action="store_true", help="skip hadolint and shellcheck")
    args = parser.parse_args(list(argv) if argv is not None else None)

    tree = args.tree.resolve()
    deploy = tree / "deploy"
    schemas_dir = deploy / "schemas"
    versions = [v.strip() for v in args.k8s_versions.split(",") if v.strip()]
    renderer = pick_renderer(args.renderer)
    report = Report()
    schemas = K8sSchemas()

    try:
        contract = Contract(
            env=json.loads((schemas_dir / "env-contract.json").read_text()),
            policy=json.loads((schemas_dir / "scaling-policy.json").read_text()),
            secrets={},
        )
        keda = {key: keda_validator(schemas_dir, filename) for key, filename in KEDA_KINDS.items()}
    except (OSError, ValueError, jsonschema.SchemaError) as e:
        print(f"FAIL deploy/schemas: {e}")
        return 1
    contract.secrets = load_secret_catalogue(deploy / "k8s" / "secrets.example.yaml", schemas, versions, report)

    targets = [("base", deploy / "k8s" / "base")] + [(f"overlay {p.name}", p) for p in sorted((deploy / "k8s" / "overlays").glob("*")) if p.is_dir()]
    if len(targets) == 1:
        report.fail("deploy/k8s/overlays", "no overlay")
    rendered_counts = []
    for label, directory in targets:
        try:
            objects = render(directory, renderer)
        except (kustomize_lite.RenderError, yaml.YAMLError, OSError) as e:
            report.fail(label, f"does not render: {e}")
            continue
        rendered_counts.append(f"{label.split()[-1]} ({len(objects)})")
        check_rendered(label, objects, contract, schemas, versions, keda, report, strict_images=directory.name == "prod")

    check_compose(tree, contract, report)
    if not args.no_lint:
        run_linters(tree, Path(sys.executable).parent, report)

    for problem in report.problems:
        print(problem)
    summary = f"rendered with {renderer}: {', '.join(rendered_counts) or 'nothing'}; Kubernetes {', '.join(versions)}; {report.checked} checks passed"
    if report.problems:
        print(f"deploy validation FAILED: {len(report.problems)} problem(s); {summary}")
        return 1
    print(f"deploy validation passed: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
