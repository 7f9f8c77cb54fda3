"""``--change``: the one parser of Dockerfile instructions that ``commit`` and ``import`` share."""

from __future__ import annotations

import pytest

from ctrd.errors import InvalidArgument
from managers.changes import MAX_CHANGE, apply_changes


def test_each_instruction() -> None:
    base = {"Cmd": ["sh"], "Env": ["PATH=/bin", "A=old"], "WorkingDir": "/srv"}
    config = apply_changes(base, [
        'CMD ["nginx", "-g", "daemon off;"]',
        "ENV A=1 B=\"two words\"",
        "env C 3 4",
        "EXPOSE 80 53/udp 8000-8002",
        "LABEL tier=db 'owner=a b'",
        "USER 1000:1000",
        "WORKDIR app",
        "VOLUME [\"/data\"]",
        "VOLUME /logs /cache/",
        "STOPSIGNAL quit",
    ])
    assert config["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert config["Env"] == ["PATH=/bin", "A=1", "B=two words", "C=3 4"]
    assert set(config["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"}
    assert config["Labels"] == {"tier": "db", "owner": "a b"}
    assert config["User"] == "1000:1000" and config["WorkingDir"] == "/srv/app"
    assert config["Volumes"] == {"/data": {}, "/logs": {}, "/cache": {}}
    assert config["StopSignal"] == "SIGQUIT"
    assert base == {"Cmd": ["sh"], "Env": ["PATH=/bin", "A=old"], "WorkingDir": "/srv"}  # a copy was changed


def test_shell_form_and_entrypoint_resetting_cmd() -> None:
    config = apply_changes({"Cmd": ["x"]}, ["ENTRYPOINT exec httpd -f"])
    assert config == {"Entrypoint": ["/bin/sh", "-c", "exec httpd -f"]}
    assert apply_changes({}, ["CMD [not json"])["Cmd"] == ["/bin/sh", "-c", "[not json"]
    assert apply_changes({}, ['CMD [1, 2]'])["Cmd"] == ["/bin/sh", "-c", "[1, 2]"]  # not strings: shell form


@pytest.mark.parametrize("change", [
    "RUN rm -rf /", "COPY . /", "", "CMD", "ENV", "ENV 1A=x", "ENV A", "LABEL novalue", "EXPOSE http",
    "EXPOSE 70000", "EXPOSE 1-5000", "USER a b", "VOLUME relative", "STOPSIGNAL SIGNOPE", "ENV A='unclosed",
    "CMD a\x00b", "CMD " + "x" * MAX_CHANGE,
])
def test_bad_instructions_are_invalid_arguments(change: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        apply_changes({}, [change])
    assert err.value.message.startswith("--change")
