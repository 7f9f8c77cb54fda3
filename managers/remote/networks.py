"""A pouchd context's networks: ``network ls``."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from managers.remote.fields import REF, as_labels, as_text, docker_filters
from managers.remote.served import Remote


class RemoteNetworks(Remote):
    def list(self, *, filters: Iterable[str] = ()) -> builtins.list[dict[str, Any]]:
        """``network ls``: pouchd's ``GET /networks`` as the local records (its first IPAM config's
        subnet, gateway and range; the containers attached, by id, name and address)."""
        reply = self.api.get("/networks", {"filters": docker_filters(filters) or None}, what="network ls")
        out = []
        for item in reply if isinstance(reply, builtins.list) else []:
            if not isinstance(item, dict) or not REF.match(as_text(item.get("Name"))) \
                    or not REF.match(as_text(item.get("Id"))):
                continue
            ipam = item.get("IPAM") if isinstance(item.get("IPAM"), dict) else {}
            configs = ipam.get("Config") if isinstance(ipam.get("Config"), builtins.list) else []
            config = configs[0] if configs and isinstance(configs[0], dict) else {}
            options = as_labels(item.get("Options"))
            attached = item.get("Containers") if isinstance(item.get("Containers"), dict) else {}
            out.append({
                "name": item["Name"], "id": item["Id"], "driver": as_text(item.get("Driver")),
                "subnet": as_text(config.get("Subnet")), "gateway": as_text(config.get("Gateway")),
                "ip_range": as_text(config.get("IPRange")), "internal": item.get("Internal") is True,
                "bridge": options.get("com.docker.network.bridge.name", ""), "mtu": 0,
                "labels": as_labels(item.get("Labels")),
                "containers": [{"id": cid, "name": as_text(c.get("Name")),
                                "ip": as_text(c.get("IPv4Address")), "mac": as_text(c.get("MacAddress"))}
                               for cid, c in attached.items() if REF.match(str(cid)) and isinstance(c, dict)],
                "created": as_text(item.get("Created")),
            })
        return out
