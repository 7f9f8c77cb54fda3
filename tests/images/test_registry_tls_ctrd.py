"""TLS as docker does it, against Debian's docker-registry serving TLS on loopback with a test CA: a host that
is not insecure is verified (certs.d's ca.crt, docker's directory or pouchsh's own), a client certificate
in certs.d is presented, ``--insecure-registry`` accepts an untrusted certificate, and loopback is insecure
by default. ``$POUCHSH_CERTS_D`` and ``$XDG_CONFIG_HOME`` point at temporary directories: nothing is written
to /etc/docker."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctrd.errors import Unavailable
from managers.registry import Registry
from managers.tls import CERTS_D_ENV, InsecureHosts
from tests.images.certs import Certs, make_certs
from tests.images.conftest import run_registry



def strict(host: str) -> bool:
    return False


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def tls_registry(certs: Certs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_registry(tmp_path_factory.mktemp("tls-registry"), tls=(certs.server_cert, certs.server_key)) as address:
        yield address


@pytest.fixture(autouse=True)
def cert_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    docker = tmp_path / "certs.d"
    config_home = tmp_path / "config"
    monkeypatch.setenv(CERTS_D_ENV, str(docker))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    return docker, config_home / "pouchsh" / "certs.d"


def place(directory: Path, host: str, files: dict[str, Path]) -> None:
    (directory / host).mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        shutil.copy(source, directory / host / name)


def test_an_untrusted_certificate_is_refused_for_a_secure_host(tls_registry: str) -> None:
    with pytest.raises(Unavailable, match="not trusted"):
        Registry(tls_registry, insecure_hosts=strict).ping()


@pytest.mark.parametrize("which", [0, 1], ids=["docker-certs.d", "pouchsh-certs.d"])
def test_a_ca_in_certs_d_is_trusted(tls_registry: str, certs: Certs, cert_dirs: tuple[Path, Path], which: int) -> None:
    place(cert_dirs[which], tls_registry, {"ca.crt": certs.ca})
    Registry(tls_registry, insecure_hosts=strict).ping()


def test_insecure_registry_accepts_an_untrusted_certificate(tls_registry: str) -> None:
    Registry(tls_registry, insecure=True, insecure_hosts=strict).ping()
    Registry(tls_registry, insecure_hosts=InsecureHosts([tls_registry])).ping()
    Registry(tls_registry).ping()  # loopback is insecure by default, as dockerd's 127.0.0.0/8
    assert Registry(tls_registry).insecure and not Registry("registry.example:5000").insecure


def test_a_client_certificate_in_certs_d_is_presented(
    certs: Certs, cert_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    probe = ssl.create_default_context(cafile=str(certs.ca))
    probe.load_cert_chain(str(certs.client_cert), str(certs.client_key))
    with run_registry(
        tmp_path / "mtls", tls=(certs.server_cert, certs.server_key), client_ca=certs.ca, probe=probe
    ) as address:
        place(cert_dirs[0], address, {"ca.crt": certs.ca})
        with pytest.raises(Unavailable):
            Registry(address, insecure_hosts=strict).ping()
        place(cert_dirs[0], address, {"client.cert": certs.client_cert, "client.key": certs.client_key})
        Registry(address, insecure_hosts=strict).ping()


def test_insecure_hosts_match_hosts_ports_and_cidrs() -> None:
    hosts = InsecureHosts(["reg.example:5000", "plain.example", "10.1.0.0/16"])
    assert hosts("reg.example:5000") and hosts("plain.example:443") and hosts("10.1.2.3:5000")
    assert not hosts("reg.example:5001") and not hosts("10.2.0.1") and not hosts("other.example")
    assert hosts("127.0.0.1:5000") and hosts("localhost") and hosts("[::1]:5000")


@pytest.mark.containerd
def test_push_and_pull_over_tls(images, busybox_image: str, tls_registry: str) -> None:
    name = f"{tls_registry}/tls/bb:1"
    images.tag("busybox", name)
    pushed = images.push(name)
    images.remove([name])
    assert images.pull(name)["digest"] == pushed["digest"]


def test_the_settings_file_and_the_command_line_name_insecure_registries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from managers import Managers
    from pouchsh.cli import parse_args

    config = tmp_path / "config.toml"
    config.write_text('insecure-registries = ["reg.example:5000"]\n')
    monkeypatch.setenv("POUCHSH_CONFIG", str(config))
    opts = parse_args(["--insecure-registry", "cli.example:5000", "--insecure-registry=10.9.0.0/16", "-c", "x"])
    assert opts.insecure_registries == ["cli.example:5000", "10.9.0.0/16"]
    facade = Managers(root=tmp_path / "root", insecure_registries=tuple(opts.insecure_registries))
    hosts = facade.images._insecure_hosts()
    assert hosts("reg.example:5000") and hosts("cli.example:5000") and hosts("10.9.1.1:443")
    assert not hosts("other.example:5000")


def test_registry_insecure_names_hosts_for_the_rest_of_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``registry insecure HOST`` in a script or the REPL: as ``--insecure-registry``, from then on."""
    import json

    from tests.lang.conftest import run_cli

    config = tmp_path / "config.toml"
    config.write_text('insecure-registries = ["file.example:5000"]\n')
    monkeypatch.setenv("POUCHSH_CONFIG", str(config))
    env = {"POUCHSH_ROOT": str(tmp_path / "root"), "POUCHSH_RUN": str(tmp_path / "run")}
    script = (
        "registry insecure Reg.Example:5000 https://10.9.0.0/16/; registry insecure reg.example:5000 | to json"
    )
    result = run_cli(["--insecure-registry", "cli.example", "-c", script], env=env)
    assert result.code == 0, result.err
    shown = json.loads(result.out.splitlines()[-1])
    assert shown == {
        "session": ["cli.example", "reg.example:5000", "10.9.0.0/16"],
        "settings": ["file.example:5000"],
        "loopback": True,
    }
    for bad in ("reg example", "reg.example/path", "10.0.0.0/99", "", "x:port"):
        refused = run_cli(["-c", f"registry insecure reg.lan {json.dumps(bad)}; echo after"], env=env)
        assert (refused.code, refused.out) != (0, "after\n") and "error[invalid-argument]" in refused.err, bad


def test_a_session_entry_counts_for_the_pulls_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctrd.daemon import Embedded, stop_embedded
    from managers import Managers

    monkeypatch.setenv("POUCHSH_CONFIG", str(tmp_path / "none.toml"))
    # its own run root: the facade may start an embedded containerd there, which goes with the test
    facade = Managers(root=tmp_path / "root", run_root=tmp_path / "run")
    try:
        assert not facade.images._insecure_hosts()("reg.example:5000")
        facade.images.add_insecure_registries(["reg.example:5000", "10.9.0.0/16"])
        hosts = facade.images._insecure_hosts()
        assert hosts("reg.example:5000") and hosts("10.9.1.1:443") and not hosts("reg.example:5001")
        assert facade.for_namespace("other").images._insecure_hosts()("reg.example:5000")
    finally:
        facade.close()
        stop_embedded(Embedded.under(tmp_path / "root", tmp_path / "run"))
