async def test_topics_start_unknown_and_count_each_change(store):
    assert await store.revisions() == {}
    await store.bump_revision("keys")
    await store.bump_revision("keys")
    await store.bump_revision("ips")
    assert await store.revisions() == {"keys": 2, "ips": 1}


async def test_other_processes_see_the_same_counters(store, open_store):
    other = await open_store()
    await store.bump_revision("settings")
    await other.bump_revision("settings")
    assert await store.revisions() == {"settings": 2}
    assert await other.revisions() == {"settings": 2}
