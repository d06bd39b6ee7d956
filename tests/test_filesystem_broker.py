"""The embedded default's file-system broker: a worker never reads a message still being written."""

import threading

import pytest
from kombu import Connection
from kombu.transport import filesystem as kombu_filesystem
from kombu.transport.virtual import Empty


def test_a_message_being_written_is_not_read_half_written(tmp_path, monkeypatch):
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "store_processed": False}
    connection = Connection(
        "filesystem://", transport="tradingsite.broker:FilesystemTransport", transport_options=options
    )
    channel = connection.default_channel
    writing, release = threading.Event(), threading.Event()
    serialise = kombu_filesystem.dumps

    def slow_dumps(payload):  # the writer is caught in the middle of putting the message
        writing.set()
        assert release.wait(10)
        return serialise(payload)

    monkeypatch.setattr(kombu_filesystem, "dumps", slow_dumps)
    writer = threading.Thread(target=channel._put, args=("orders", {"body": "order 1"}))
    writer.start()
    try:
        assert writing.wait(10)
        # kombu's own channel has created the file, empty, by now: its reader fails to decode it
        # (JSONDecodeError, which stopped make run's worker) and the message is lost.
        with pytest.raises(Empty):
            channel._get("orders")
    finally:
        release.set()
        writer.join(10)
    assert channel._get("orders") == {"body": "order 1"}
    assert [p.name for p in tmp_path.iterdir()] == []  # nothing left behind, no partial file
    connection.release()
