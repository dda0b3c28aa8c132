#!/usr/bin/env python3
"""A small kustomize for the subset of kustomization features deploy/k8s uses.

deploy/validate.sh renders the overlays with `kustomize build` or `kubectl kustomize` when
either is installed, and with this module otherwise, so the validation also runs on a
machine that has neither. It understands exactly these kustomization fields and refuses
any other one (so an overlay never silently renders differently here):

  resources   files (multi-document YAML) and directories holding a kustomization
  namespace   sets metadata.namespace on namespaced objects and renames a Namespace
  patches     strategic-merge patches, from `path:` or inline `patch:`, matched by the
              patch's kind and name or by `target: {kind, name}`
  images      name -> newName / newTag / digest, on containers and initContainers
  replicas    name -> count, on Deployments and StatefulSets

Strategic merge follows Kubernetes' patch merge keys for the lists used here
(containers by name, env by name, ports by containerPort or port, volumes by name,
volumeMounts by mountPath); every other list is replaced, and `null` deletes a key.
Custom resources (ScaledObject, TriggerAuthentication) get a JSON merge patch (RFC 7386),
as kustomize does for kinds it has no schema for. `compare` checks the output against
kustomize's, object by object.

Usage:
  kustomize_lite.py build DIR            print the rendered YAML stream
  kustomize_lite.py compare DIR -- CMD   compare with CMD's output (e.g. kubectl kustomize DIR)
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "namespace", "patches", "images", "replicas"}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "IngressClass",
    "PriorityClass",
    "ClusterTriggerAuthentication",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}
# API groups whose kinds kustomize patches with strategic merge (it knows their schema).
BUILTIN_GROUPS = {"", "apps", "batch", "policy", "networking.k8s.io", "autoscaling", "rbac.authorization.k8s.io"}
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "topologySpreadConstraints": "topologyKey",
}
POD_SPEC_PATHS = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}


# libyaml's loader when PyYAML has it (the PyPI wheels do): several times faster.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_all(stream: Any) -> list[Any]:
    """Every non-empty document of a YAML stream (str or file)."""
    return [d for d in yaml.load_all(stream, Loader=SafeLoader) if d is not None]


class RenderError(Exception):
    """A kustomization this renderer cannot (or refuses to) render."""


def load_yaml_stream(path: Path) -> list[dict]:
    try:
        with path.open() as f:
            docs = load_all(f)
    except yaml.YAMLError as e:
        raise RenderError(f"{path}: not valid YAML: {e}") from e
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d or "metadata" not in d:
            raise RenderError(f"{path}: every document must be a Kubernetes object with kind and metadata")
    return docs


def find_kustomization(directory: Path) -> Path:
    for name in KUSTOMIZATION_FILES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    raise RenderError(f"{directory}: no kustomization.yaml")


def api_group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def ident(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')}/{meta.get('name')}" + (f" (namespace {ns})" if ns else "")


def build(directory: Path | str) -> list[dict]:
    """Renders the kustomization in `directory` and returns its objects."""
    directory = Path(directory)
    kpath = find_kustomization(directory)
    with kpath.open() as f:
        try:
            k = yaml.load(f, Loader=SafeLoader) or {}
        except yaml.YAMLError as e:
            raise RenderError(f"{kpath}: not valid YAML: {e}") from e
    if not isinstance(k, dict):
        raise RenderError(f"{kpath}: must be a mapping")
    unsupported = sorted(set(k) - SUPPORTED_FIELDS)
    if unsupported:
        raise RenderError(
            f"{kpath}: field(s) {', '.join(unsupported)} not supported by kustomize_lite "
            f"(supported: {', '.join(sorted(SUPPORTED_FIELDS))}); install kustomize or kubectl to render this"
        )

    objects: list[dict] = []
    for entry in k.get("resources") or []:
        target = (directory / entry).resolve()
        if target.is_dir():
            objects.extend(build(target))
        elif target.is_file():
            objects.extend(load_yaml_stream(target))
        else:
            raise RenderError(f"{kpath}: resource {entry!r} does not exist")
    seen: set[tuple] = set()
    for obj in objects:
        key = (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"].get("name"))
        if key in seen:
            raise RenderError(f"{kpath}: {ident(obj)} is defined twice")
        seen.add(key)

    for i, entry in enumerate(k.get("patches") or []):
        apply_patch_entry(directory, kpath, i, entry, objects)
    if k.get("namespace"):
        set_namespace(objects, k["namespace"])
    for image in k.get("images") or []:
        set_image(kpath, objects, image)
    for replica in k.get("replicas") or []:
        set_replicas(kpath, objects, replica)
    return objects


def apply_patch_entry(directory: Path, kpath: Path, index: int, entry: dict, objects: list[dict]) -> None:
    if not isinstance(entry, dict) or not ({"path", "patch"} & set(entry)):
        raise RenderError(f"{kpath}: patches[{index}] needs `path` or `patch`")
    extra = set(entry) - {"path", "patch", "target"}
    if extra:
        raise RenderError(f"{kpath}: patches[{index}]: unsupported field(s) {', '.join(sorted(extra))}")
    if "path" in entry:
        ppath = directory / entry["path"]
        if not ppath.is_file():
            raise RenderError(f"{kpath}: patch file {entry['path']!r} does not exist")
        try:
            patches = load_all(ppath.read_text())
        except yaml.YAMLError as e:
            raise RenderError(f"{ppath}: not valid YAML: {e}") from e
        where = str(ppath)
    else:
        patches = load_all(entry["patch"])
        where = f"{kpath}: patches[{index}]"
    target = entry.get("target") or {}
    if set(target) - {"kind", "name", "namespace"}:
        raise RenderError(f"{where}: target supports kind, name and namespace only")
    for patch in patches:
        if not isinstance(patch, dict):
            raise RenderError(f"{where}: a JSON 6902 patch (a list of operations) is not supported; use a strategic-merge patch")
        kind = target.get("kind") or patch.get("kind")
        name = target.get("name") or (patch.get("metadata") or {}).get("name")
        namespace = target.get("namespace") or (patch.get("metadata") or {}).get("namespace")
        if not kind or not name:
            raise RenderError(f"{where}: a patch needs kind and metadata.name (or a target)")
        matches = [
            o
            for o in objects
            if o["kind"] == kind
            and o["metadata"].get("name") == name
            and (namespace is None or o["metadata"].get("namespace") == namespace)
        ]
        if not matches:
            raise RenderError(f"{where}: patch for {kind}/{name} matches no resource")
        for obj in matches:
            body = copy.deepcopy(patch)
            if target:
                # A targeted patch may carry a placeholder identity; keep the object's own.
                body.pop("metadata", None)
                body.pop("kind", None)
                body.pop("apiVersion", None)
            strategic = api_group(obj.get("apiVersion", "")) in BUILTIN_GROUPS
            merged = merge(obj, body, strategic=strategic, kind=obj["kind"], where=where)
            obj.clear()
            obj.update(merged)


def merge(base: Any, patch: Any, *, strategic: bool, kind: str, where: str, field: str = "") -> Any:
    """Strategic merge (or RFC 7386 merge when `strategic` is false) of `patch` into `base`."""
    if isinstance(patch, dict):
        for key in patch:
            if isinstance(key, str) and key.startswith("$"):
                raise RenderError(f"{where}: patch directive {key!r} is not supported")
        if not isinstance(base, dict):
            base = {}
        out = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = merge(out[key], value, strategic=strategic, kind=kind, where=where, field=key)
            else:
                out[key] = strip_nulls(copy.deepcopy(value))
        return out
    if isinstance(patch, list) and strategic and isinstance(base, list):
        key = merge_key(field, kind)
        if key and all(isinstance(i, dict) and key in i for i in patch + base):
            out = copy.deepcopy(base)
            for item in patch:
                for j, existing in enumerate(out):
                    if existing[key] == item[key]:
                        out[j] = merge(existing, item, strategic=True, kind=kind, where=where)
                        break
                else:
                    out.append(strip_nulls(copy.deepcopy(item)))
            return out
    return strip_nulls(copy.deepcopy(patch))


def merge_key(field: str, kind: str) -> str | None:
    if field == "ports":
        return "port" if kind == "Service" else "containerPort"
    return MERGE_KEYS.get(field)


def strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def set_namespace(objects: list[dict], namespace: str) -> None:
    for obj in objects:
        if obj["kind"] == "Namespace":
            obj["metadata"]["name"] = namespace
        elif obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = namespace


def split_image(image: str) -> tuple[str, str | None, str | None]:
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        image, tag = image.rsplit(":", 1)
    return image, tag, digest


def pod_spec(obj: dict) -> dict | None:
    path = POD_SPEC_PATHS.get(obj.get("kind"))
    node: Any = obj
    for part in path or ():
        node = (node or {}).get(part)
    return node if path and isinstance(node, dict) else None


def set_image(kpath: Path, objects: list[dict], entry: dict) -> None:
    if not isinstance(entry, dict) or "name" not in entry:
        raise RenderError(f"{kpath}: images entries need a name")
    extra = set(entry) - {"name", "newName", "newTag", "digest"}
    if extra:
        raise RenderError(f"{kpath}: images: unsupported field(s) {', '.join(sorted(extra))}")
    for obj in objects:
        spec = pod_spec(obj)
        if not spec:
            continue
        for section in ("initContainers", "containers"):
            for container in spec.get(section) or []:
                name, tag, digest = split_image(container.get("image", ""))
                if name != entry["name"]:
                    continue
                name = entry.get("newName", name)
                if "digest" in entry:
                    container["image"] = f"{name}@{entry['digest']}"
                    continue
                tag = str(entry["newTag"]) if "newTag" in entry else tag
                image = name + (f":{tag}" if tag else "")
                container["image"] = image + (f"@{digest}" if digest and "newTag" not in entry else "")


def set_replicas(kpath: Path, objects: list[dict], entry: dict) -> None:
    if not isinstance(entry, dict) or "name" not in entry or "count" not in entry:
        raise RenderError(f"{kpath}: replicas entries need name and count")
    hits = [o for o in objects if o["kind"] in {"Deployment", "StatefulSet", "ReplicaSet"} and o["metadata"].get("name") == entry["name"]]
    if not hits:
        raise RenderError(f"{kpath}: replicas: no Deployment or StatefulSet named {entry['name']!r}")
    for obj in hits:
        obj.setdefault("spec", {})["replicas"] = int(entry["count"])


def dump(objects: list[dict]) -> str:
    return "---\n".join(yaml.safe_dump(o, sort_keys=True, default_flow_style=False) for o in objects)


def canonical(value: Any) -> Any:
    """Order-insensitive form for comparing renderers: maps by key, named lists by name."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [canonical(v) for v in value]
        for key in ("name", "containerPort", "mountPath"):
            if items and all(isinstance(i, dict) and key in i for i in items):
                return sorted(items, key=lambda i: str(i[key]))
        return items
    return value


def index(objects: list[dict]) -> dict[tuple, Any]:
    return {(o["kind"], o["metadata"].get("namespace"), o["metadata"].get("name")): canonical(o) for o in objects}


def compare(directory: Path, command: list[str]) -> list[str]:
    """Differences between this renderer and `command` (e.g. kubectl kustomize DIR)."""
    ours = index(build(directory))
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    theirs = index(load_all(out))
    problems = []
    for key in sorted(set(ours) | set(theirs), key=str):
        if key not in theirs:
            problems.append(f"{key}: only kustomize_lite renders it")
        elif key not in ours:
            problems.append(f"{key}: only {command[0]} renders it")
        elif ours[key] != theirs[key]:
            problems.append(f"{key}: renders differently:\n  lite: {ours[key]}\n  {command[0]}: {theirs[key]}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "build":
        try:
            sys.stdout.write(dump(build(Path(argv[1]))))
        except RenderError as e:
            print(f"kustomize_lite: {e}", file=sys.stderr)
            return 1
        return 0
    if len(argv) >= 4 and argv[0] == "compare" and argv[2] == "--":
        try:
            problems = compare(Path(argv[1]), argv[3:])
        except RenderError as e:
            print(f"kustomize_lite: {e}", file=sys.stderr)
            return 1
        for p in problems:
            print(p)
        if problems:
            return 1
        print(f"kustomize_lite renders {argv[1]} as {argv[3]} does")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
