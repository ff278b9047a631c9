from __future__ import annotations


def test_post_and_read_back(server):
    alice = server.user("smoke-alice")
    client = server.client(alice.token)
    assert client.auth_test()["user_id"] == alice.user_id
    ch = client.conversations_create(name="smoke")["channel"]["id"]
    ts = client.chat_postMessage(channel=ch, text="hello")["ts"]
    history = client.conversations_history(channel=ch)
    assert [m["ts"] for m in history["messages"]] == [ts]
