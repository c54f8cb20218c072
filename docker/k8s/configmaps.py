#!/usr/bin/env python3
"""configmaps.py — a Braid service directory as Kubernetes ConfigMaps.

    python3 docker/k8s/configmaps.py examples/seed > docker/k8s/configmaps.yaml

One ConfigMap per subfolder (braid-apis, braid-datasources, braid-functions,
braid-workflows), each file a key; deployment.yaml mounts each at
/srv/braid/<subfolder>.  A ConfigMap holds no folders, hence one per
subfolder (docs/deploy.md).  Databases are data, not configuration: a
SQLite file a data source names stays in the image (or a volume).
The same as, for each subfolder,
    kubectl create configmap braid-apis --from-file=DIR/apis --dry-run=client -o yaml
but with no kubectl needed, in a stable order, so the shipped file can be
compared with its source (make image-test does).  --prefix NAME changes the
ConfigMaps' name prefix (braid-).
"""
import json
import os
import sys

SUBFOLDERS = ("apis", "datasources", "functions", "workflows")
# Only what Braid loads (SPEC section 1): <name>.json, <name>.py.
EXTENSIONS = (".json", ".py")


def scalar(text):
    """A YAML literal block for text that reads well as one, else a JSON string."""
    if text.endswith("\n") and not text.endswith("\n\n") and text.strip() \
            and not text.startswith((" ", "\n")) \
            and all(ch == "\n" or ch.isprintable() for ch in text):
        return "|\n" + "".join(line if line == "\n" else "    " + line
                               for line in text.splitlines(True))
    return json.dumps(text) + "\n"


def configmap(name, folder):
    out = ["---\n", "apiVersion: v1\n", "kind: ConfigMap\n", "metadata:\n",
           "  name: %s\n" % name,
           "  labels:\n", "    app.kubernetes.io/name: braid\n"]
    files = sorted(f for f in os.listdir(folder) if f.endswith(EXTENSIONS)) \
        if os.path.isdir(folder) else []
    if not files:
        out.append("data: {}\n")
        return "".join(out)
    out.append("data:\n")
    for f in files:
        with open(os.path.join(folder, f), encoding="utf-8") as fh:
            out.append("  %s: %s" % (f, scalar(fh.read())))
    return "".join(out)


def main(argv):
    prefix = "braid-"
    args = list(argv)
    if "--prefix" in args:
        i = args.index("--prefix")
        prefix = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        sys.stderr.write("usage: configmaps.py [--prefix NAME] SERVICE_DIR\n")
        return 2
    d = args[0]
    sys.stdout.write("# ConfigMaps of the service directory %s: made by docker/k8s/configmaps.py.\n"
                     % os.path.basename(os.path.normpath(d)))
    for sub in SUBFOLDERS:
        sys.stdout.write(configmap(prefix + sub, os.path.join(d, sub)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
