"""Password prompts through a real terminal: az on a pseudo-terminal, typing like a user.

knack's prompt reads from the controlling terminal (getpass opens /dev/tty), so az runs in its own
session with a pty as controlling terminal; we answer each prompt as it appears.
"""
import fcntl
import os
import pty
import select
import subprocess
import termios
import time

from .conftest import AZ


def run_on_terminal(args, env, cwd, answers, timeout=60):
    """Run az on a pty; for each ``(prompt, reply)`` wait for ``prompt`` then type ``reply``."""
    master, slave = pty.openpty()

    def take_terminal():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen([str(AZ), *map(str, args)], stdin=slave, stdout=slave, stderr=slave,
                               env=env, cwd=cwd, start_new_session=True, preexec_fn=take_terminal)
    os.close(slave)
    seen, pending, deadline = b"", list(answers), time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: az exited and closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            current_line = seen.rsplit(b"\n", 1)[-1]
            if pending and pending[0][0].encode() in current_line:
                os.write(master, pending.pop(0)[1].encode() + b"\n")
            if process.poll() is not None and not ready:
                break
        return process.wait(timeout=10), seen.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)


def test_create_on_a_terminal_asks_twice_and_the_pfx_opens_with_that_password(az_env, tmp_path):
    code, screen = run_on_terminal(
        ["entracert", "cert", "create", "--subject", "CN=typed", "--out", "typed.pfx"],
        az_env, tmp_path,
        [("PFX password:", "typed secret"), ("Confirm PFX password:", "typed secret")])
    assert code == 0, screen
    assert "typed secret" not in screen  # hidden input: never echoed
    from cryptography.hazmat.primitives.serialization import pkcs12

    bundle = pkcs12.load_pkcs12((tmp_path / "typed.pfx").read_bytes(), b"typed secret")
    assert bundle.cert.certificate.subject.rfc4514_string() == "CN=typed"


def test_show_on_a_terminal_asks_only_when_the_file_needs_a_password(az, az_env, tmp_path):
    az("entracert", "cert", "create", "--subject", "CN=ask", "--out", "ask.pfx",
       "--password-env", "PW", env={"PW": "pfx pw"})
    code, screen = run_on_terminal(["entracert", "cert", "show", "--file", "ask.pfx",
                                    "--query", "subject", "-o", "tsv"],
                                   az_env, tmp_path, [("assword", "pfx pw")])
    assert code == 0 and "CN=ask" in screen, screen
    code, screen = run_on_terminal(["entracert", "cert", "show", "--file", "ask.cer",
                                    "--query", "subject", "-o", "tsv"], az_env, tmp_path, [])
    assert code == 0 and "assword" not in screen and "CN=ask" in screen, screen


CTRL_D = "\x04"  # end of input at the start of a line: the terminal's way to give up


def test_ctrl_d_at_a_password_prompt_cancels_without_a_traceback(az_env, tmp_path):
    code, screen = run_on_terminal(
        ["entracert", "cert", "create", "--subject", "CN=eof", "--out", "eof.pfx"],
        az_env, tmp_path, [("PFX password:", CTRL_D)])
    assert code != 0 and "ERROR: Cancelled." in screen, screen
    assert "Traceback" not in screen and "EOFError" not in screen, screen
    assert not list(tmp_path.glob("eof*")), "nothing is written"


def test_ctrl_d_at_a_confirmation_cancels_and_keeps_the_profile(az, az_env, tmp_path):
    az("entracert", "cert", "create", "--subject", "CN=keep", "--out", "keep.pfx", "--no-password")
    az("entracert", "profile", "create", "--name", "keep", "--tenant", "contoso.onmicrosoft.com",
       "--client-id", "00000000-0000-0000-0000-000000000001", "--certificate", "keep.pfx")
    code, screen = run_on_terminal(["entracert", "profile", "delete", "--name", "keep"],
                                   az_env, tmp_path, [("(y/n)", CTRL_D)])
    assert code != 0 and "ERROR: Cancelled." in screen, screen
    assert "Traceback" not in screen and "EOFError" not in screen, screen
    names = az("entracert", "profile", "list", "--query", "[].name").out
    assert "keep" in names
    az("entracert", "profile", "delete", "--name", "keep", "--yes")


def test_a_confirmation_without_a_terminal_names_yes(az):
    refused = az("entracert", "app", "cert", "remove", "--profile", "none", "--key-id",
                 "11111111-2222-3333-4444-555555555555", check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr, refused.stderr
