"""Test fixtures made directly through the Glance API (openstacksdk), independent of the modules.

  fixtures.py purge                       delete every image of the local cloud's projects
  fixtures.py create NAME [options]       create an image, print it as JSON
  fixtures.py bulk PREFIX COUNT           create COUNT data-less images named PREFIX-0000...
  fixtures.py show NAME_OR_ID             print the raw image JSON (or null)
  fixtures.py count NAME                  print how many images have this exact name (hidden included)
  fixtures.py project-id CLOUD            print the project ID of a cloud entry
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import openstack

DEFAULT_CLOUD = os.environ.get("OS_CLOUD", "glance-admin")
CLOUDS = ("glance-admin", "glance-demo")


def connect(cloud: str):
    return openstack.connect(cloud=cloud)


def all_images(conn):
    images = {}
    for hidden in (False, True):
        for image in conn.image.images(is_hidden=hidden):
            images[image.id] = image
    return list(images.values())


def purge(args) -> None:
    del args
    for cloud in CLOUDS:
        conn = connect(cloud)
        project_id = conn.current_project_id
        doomed = [image for image in all_images(conn) if image.owner == project_id]
        for image in doomed:
            if image.is_protected:
                conn.image.update_image(image, is_protected=False)
        # One at a time: the local cloud's SQLite database refuses concurrent writers.
        for image in doomed:
            conn.image.delete_image(image, ignore_missing=True)
        print(f"{cloud}: deleted {len(doomed)} images")


def api(conn, method: str, path: str, **kwargs):
    response = conn.image.request(path, method, raise_exc=False, **kwargs)
    openstack.exceptions.raise_from_response(response)
    return response


def create(args) -> None:
    conn = connect(args.cloud)
    body = dict(name=args.name, disk_format=args.disk_format, container_format="bare",
                visibility=args.visibility, os_hidden=args.hidden, protected=args.protected,
                min_disk=args.min_disk, min_ram=args.min_ram, tags=args.tag or [])
    for item in args.property or []:
        key, _sep, value = item.partition("=")
        body[key] = value
    image = api(conn, "POST", "/images", json=body).json()
    if args.size is not None:
        api(conn, "PUT", f"/images/{image['id']}/file", data=os.urandom(args.size),
            headers={"Content-Type": "application/octet-stream"})
    for project in args.share_with or []:
        member = connect(project).current_project_id if project in CLOUDS else project
        api(conn, "POST", f"/images/{image['id']}/members", json={"member": member})
        if args.accept and project in CLOUDS:
            api(connect(project), "PUT", f"/images/{image['id']}/members/{member}", json={"status": "accepted"})
    print(json.dumps(api(conn, "GET", f"/images/{image['id']}").json()))


def bulk(args) -> None:
    conn = connect(args.cloud)
    names = [f"{args.prefix}-{index:04d}" for index in range(args.count)]
    for name in names:
        api(conn, "POST", "/images", json={"name": name, "disk_format": "raw", "container_format": "bare", "tags": [args.prefix]})
    print(json.dumps({"created": len(names)}))


def show(args) -> None:
    conn = connect(args.cloud)
    matches = [image for image in all_images(conn) if args.image in (image.id, image.name)]
    raw = [conn.image.get(f"images/{image.id}").json() for image in matches]
    print(json.dumps(raw[0] if len(raw) == 1 else (raw or None)))


def count(args) -> None:
    conn = connect(args.cloud)
    print(sum(1 for image in all_images(conn) if image.name == args.name))


def project_id(args) -> None:
    print(connect(args.cloud_name).current_project_id)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cloud", default=DEFAULT_CLOUD)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("purge").set_defaults(func=purge)
    p = sub.add_parser("create")
    p.add_argument("name")
    p.add_argument("--size", type=int, help="upload this many random bytes")
    p.add_argument("--disk-format", default="raw")
    p.add_argument("--visibility", default="private")
    p.add_argument("--hidden", action="store_true")
    p.add_argument("--protected", action="store_true")
    p.add_argument("--min-disk", type=int, default=0)
    p.add_argument("--min-ram", type=int, default=0)
    p.add_argument("--tag", action="append")
    p.add_argument("--property", action="append", help="key=value")
    p.add_argument("--share-with", action="append", help="cloud entry or project ID")
    p.add_argument("--accept", action="store_true", help="the member accepts the share")
    p.set_defaults(func=create)
    p = sub.add_parser("bulk")
    p.add_argument("prefix")
    p.add_argument("count", type=int)
    p.set_defaults(func=bulk)
    p = sub.add_parser("show")
    p.add_argument("image")
    p.set_defaults(func=show)
    p = sub.add_parser("count")
    p.add_argument("name")
    p.set_defaults(func=count)
    p = sub.add_parser("project-id")
    p.add_argument("cloud_name")
    p.set_defaults(func=project_id)
    args = parser.parse_args()
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
