"""The persisted tenant under concurrent writers and readers, and across a restart."""
import threading

from azext_entracert.emulator import state as st


def test_concurrent_transactions_lose_nothing_and_readers_never_see_half_a_change(tmp_path):
    """Each transaction changes two fields together; a reader must always find them agreeing,
    and every write must reach the file a restarted emulator reads."""
    tenant = st.TenantState(tmp_path)
    with tenant.transaction() as data:
        object_id = st.create_application(data, {"displayName": "0"})["id"]
    writers, per_writer, torn = 6, 10, []
    done = threading.Event()

    def write():
        for _ in range(per_writer):
            with tenant.transaction() as data:
                app = data["applications"][object_id]
                st.add_password_credential(app)
                app["displayName"] = str(len(app["passwordCredentials"]))

    def read():
        while not done.is_set():
            with tenant.read() as data:
                app = data["applications"][object_id]
                if app["displayName"] != str(len(app["passwordCredentials"])):
                    torn.append(app["displayName"])

    readers = [threading.Thread(target=read) for _ in range(2)]
    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in readers + threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    for thread in readers:
        thread.join()
    assert torn == []
    with st.TenantState(tmp_path).read() as data:  # what a restart sees
        app = data["applications"][object_id]
        assert len(app["passwordCredentials"]) == writers * per_writer
        assert len({c["keyId"] for c in app["passwordCredentials"]}) == writers * per_writer


def test_a_failed_transaction_changes_neither_memory_nor_file(tmp_path):
    tenant = st.TenantState(tmp_path)
    before = tenant.path.read_bytes()
    try:
        with tenant.transaction() as data:
            st.create_application(data, {"displayName": "never"})
            raise RuntimeError("validation failed half way")
    except RuntimeError:
        pass
    with tenant.read() as data:
        assert data["applications"] == {}
    assert tenant.path.read_bytes() == before


def test_secrets_are_stored_only_as_salted_hashes(tmp_path):
    tenant = st.TenantState(tmp_path)
    with tenant.transaction() as data:
        app = st.create_application(data, {"displayName": "secretive"})
        _, secret = st.add_password_credential(app)
    text = tenant.path.read_text()
    assert secret not in text and "secretHash" in text
    with tenant.read() as data:
        stored = data["applications"][app["id"]]["passwordCredentials"][0]
        assert st.secret_matches(stored, secret) and not st.secret_matches(stored, secret + "x")
