"""The labeling service's rules, through its HTTP API (the browser tests drive the page)."""

import pytest
from fastapi.testclient import TestClient

from captcha_break.labeling import create_label_app, open_session
from captcha_break.labels import scan_folder
from captcha_break.recognizer import Recognizer
from captcha_break.synth import SynthConfig, write_pngs


@pytest.fixture()
def folder(tmp_path):
    names = write_pngs(SynthConfig(), tmp_path / "shots", 5, seed="labeling")
    for i, name in enumerate(sorted(names)):
        (tmp_path / "shots" / name).rename(tmp_path / "shots" / f"img_{i}.png")
    return tmp_path / "shots"


@pytest.fixture()
def client(folder, tiny_model):
    session = open_session(folder, Recognizer.load(tiny_model["onnx"]), chars="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    with TestClient(create_label_app(session, order="name")) as c:
        yield c


def test_answers_go_to_labels_csv_at_once_and_undo_takes_them_back(client, folder):
    queue = client.get("/api/queue").json()
    assert queue["count"] == 5 and queue["items"][0]["file"] == "img_0.png"
    assert {"guess", "confidence", "char_probs"} <= set(queue["items"][0])
    assert client.post("/api/label", json={"file": "img_0.png", "label": " ab#2 "}).status_code == 400  # '#': not in --chars
    progress = client.post("/api/label", json={"file": "img_0.png", "label": " ab12 "}).json()
    assert progress["done"] == 1 and progress["labeled"] == 1
    assert progress["label"] == "AB12"  # typed in lower case, saved in the charset's case
    assert (folder / "labels.csv").read_text() == "file,label\nimg_0.png,AB12\n"
    client.post("/api/unreadable", json={"file": "img_1.png"})
    assert (folder / "labels.csv").read_text() == "file,label\nimg_0.png,AB12\nimg_1.png,\n"
    assert client.post("/api/undo").json()["file"] == "img_1.png"
    assert client.post("/api/undo").json()["file"] == "img_0.png"
    assert client.post("/api/undo").status_code == 409
    assert (folder / "labels.csv").read_text() == "file,label\n"
    assert not list(folder.glob(".labels.*"))  # no temporary files left


def test_a_label_of_another_length_needs_a_confirmation_and_junk_is_refused(folder, tiny_model):
    session = open_session(folder, Recognizer.load(tiny_model["onnx"]), lengths=(4, 4))
    with TestClient(create_label_app(session, order="name")) as c:
        asked = c.post("/api/label", json={"file": "img_0.png", "label": "JUAJUG0G0"})
        assert asked.status_code == 409 and "4 characters expected" in asked.json()["detail"]["confirm"]
        assert not (folder / "labels.csv").exists()  # nothing saved until the user says so
        assert c.post("/api/label", json={"file": "img_0.png", "label": "JUAJUG0G0", "confirm": True}).status_code == 200
        for junk in ("A" * 300, "A\rB", "A\nB"):
            assert c.post("/api/label", json={"file": "img_1.png", "label": junk, "confirm": True}).status_code == 400
        surrogate = '{"file": "img_1.png", "label": "\\ud800AB", "confirm": true}'  # valid JSON, no valid text
        assert c.post("/api/label", content=surrogate, headers={"content-type": "application/json"}).status_code == 400
    assert scan_folder(folder).items[0][1] == "JUAJUG0G0"  # labels.csv reads back as saved


def test_without_length_rule_the_labels_so_far_set_it(folder, tiny_model):
    session = open_session(folder, Recognizer.load(tiny_model["onnx"]))
    with TestClient(create_label_app(session, order="name")) as c:
        for i in range(4):  # too few to be a rule
            assert c.post("/api/label", json={"file": f"img_{i}.png", "label": "ABCD" if i else "ABCDEFGH"}).status_code == 200
        assert c.post("/api/label", json={"file": "img_4.png", "label": "AB"}).status_code == 200
        assert c.post("/api/label", json={"file": "img_4.png", "label": "ABCDEFGHIJ"}).status_code == 409  # 2-8 so far


def test_a_stale_tab_is_told_and_undo_is_per_page(client, folder):
    assert client.post("/api/label", json={"file": "img_0.png", "label": "JUG0", "page": "A"}).status_code == 200
    # Tab B still shows img_0 unlabeled: its answer would overwrite A's, so it is refused and told.
    stale = client.post("/api/label", json={"file": "img_0.png", "label": "JUGO", "page": "B", "check_seen": True, "seen": None})
    assert stale.status_code == 409 and stale.json()["label"] == "JUG0" and "changed elsewhere" in stale.json()["detail"]
    assert client.post("/api/label", json={"file": "img_1.png", "label": "XT60", "page": "B"}).status_code == 200
    undone = client.post("/api/undo", json={"page": "A"}).json()  # A's own answer, not B's later one
    assert undone["file"] == "img_0.png" and undone["undid"] == "undid img_0.png = JUG0"
    assert client.post("/api/undo", json={"page": "A"}).status_code == 409
    assert (folder / "labels.csv").read_text() == "file,label\nimg_1.png,XT60\n"


def test_labels_csv_keeps_its_mode(client, folder):
    client.post("/api/label", json={"file": "img_0.png", "label": "AB12"})
    (folder / "labels.csv").chmod(0o644)
    client.post("/api/label", json={"file": "img_1.png", "label": "AB12"})
    assert (folder / "labels.csv").stat().st_mode & 0o777 == 0o644


def test_a_non_image_says_so(folder, tiny_model):
    (folder / "broken.png").write_text("not an image")
    session = open_session(folder, Recognizer.load(tiny_model["onnx"]))
    with TestClient(create_label_app(session, order="confidence")) as c:
        first = c.get("/api/queue").json()["items"][0]
    assert first["file"] == "broken.png" and first["readable"] is False


def test_only_the_folders_images_are_served(client):
    assert client.get("/api/image/img_2.png").status_code == 200
    for name in ("../labels.csv", "%2e%2e%2fsecret", "missing.png"):
        assert client.get(f"/api/image/{name}").status_code == 404
    assert client.post("/api/label", json={"file": "../x.png", "label": "AB12"}).status_code == 404


def test_existing_labels_are_kept_shown_and_reviewable(folder, tiny_model):
    (folder / "labels.csv").write_text("file,label\nimg_3.png,WXYZ\nother.png,KEEP\n")
    recognizer = Recognizer.load(tiny_model["onnx"])
    session = open_session(folder, recognizer)
    with TestClient(create_label_app(session, order="confidence")) as c:
        unlabeled = c.get("/api/queue").json()
        assert unlabeled["count"] == 4 and "img_3.png" not in [i["file"] for i in unlabeled["items"]]
        confidences = [i["confidence"] for i in unlabeled["items"]]
        assert confidences == sorted(confidences)  # least sure first
        everything = {i["file"]: i["label"] for i in c.get("/api/queue?mode=all").json()["items"]}
        assert everything["img_3.png"] == "WXYZ" and everything["img_0.png"] is None
        review = [i["file"] for i in c.get("/api/queue?mode=review").json()["items"]]
        assert review == (["img_3.png"] if session.guesses["img_3.png"].text != "WXYZ" else [])
        c.post("/api/label", json={"file": "img_0.png", "label": "AAAA"})
    rows = (folder / "labels.csv").read_text().splitlines()
    assert "other.png,KEEP" in rows and "img_3.png,WXYZ" in rows  # never dropped or overwritten silently


def test_paging_is_stable_while_answers_move_files_out(client):
    first = client.get("/api/queue?limit=2&snapshot=s1").json()["items"]
    for item in first:
        client.post("/api/label", json={"file": item["file"], "label": "AB12"})
    second = client.get("/api/queue?offset=2&limit=2&snapshot=s1").json()["items"]
    assert [i["file"] for i in first + second] == ["img_0.png", "img_1.png", "img_2.png", "img_3.png"]


def test_train_skips_images_marked_unreadable(client, folder):
    client.post("/api/label", json={"file": "img_0.png", "label": "AB12"})
    client.post("/api/unreadable", json={"file": "img_1.png"})
    found = scan_folder(folder)
    assert [(p.name, label) for p, label in found.items] == [("img_0.png", "AB12")]
    assert ("img_1.png", "marked unreadable") in found.skipped


def test_odd_names_links_and_pipes_are_left_out_and_the_rest_still_saves(folder, tiny_model, tmp_path):
    import os

    (folder / os.fsdecode(b"bad-\xff.png")).write_bytes((folder / "img_0.png").read_bytes())
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0")
    (folder / "link.png").symlink_to(secret)
    os.mkfifo(folder / "pipe.png")
    session = open_session(folder, Recognizer.load(tiny_model["onnx"]))
    assert sorted(session.images) == [f"img_{i}.png" for i in range(5)]
    assert len(session.left_out) == 3 and any("not UTF-8" in why for why in session.left_out)
    with TestClient(create_label_app(session)) as c:
        assert c.get("/api/queue?mode=all").status_code == 200
        assert c.get("/api/image/link.png").status_code == 404
        assert c.post("/api/label", json={"file": "img_0.png", "label": "AB12"}).status_code == 200


def test_a_second_server_on_one_folder_is_refused(folder, tiny_model, capsys):
    from conftest import free_port

    from captcha_break.cli import main
    from captcha_break.locking import exclusive

    with exclusive(folder / ".labels.lock", "another label server"):
        assert main(["label", str(folder), "--model", str(tiny_model["onnx"]), "--port", str(free_port())]) == 2
    assert "in use by another label server" in capsys.readouterr().err


def test_host_token_and_body_size_are_checked(folder, tiny_model):
    session = open_session(folder, Recognizer.load(tiny_model["onnx"]))
    loopback = create_label_app(session, hosts=("testserver",))
    with TestClient(loopback) as c:
        assert c.get("/api/progress").status_code == 200
        assert c.get("/api/progress", headers={"host": "attacker.example"}).status_code == 400  # DNS rebinding
        huge = {"file": "img_0.png", "label": "A" * 100_000}
        assert c.post("/api/label", json=huge).status_code == 413
    with TestClient(create_label_app(session, token="s3cret")) as c:
        assert c.get("/api/progress").status_code == 401
        assert c.get("/?token=s3cret").status_code == 200  # the printed address: sets the cookie
        assert c.get("/api/progress").status_code == 200  # the page's own requests carry it


def test_stale_temp_files_are_cleared_and_a_read_only_folder_is_refused(folder, tiny_model):
    (folder / ".labels.abc.tmp").write_text("half a write")
    open_session(folder, Recognizer.load(tiny_model["onnx"]))
    assert not list(folder.glob(".labels.*.tmp"))
    folder.chmod(0o555)
    try:
        import os

        if os.geteuid() == 0:
            pytest.skip("root writes to read-only folders")
        with pytest.raises(ValueError, match="cannot write labels"):
            open_session(folder, Recognizer.load(tiny_model["onnx"]))
    finally:
        folder.chmod(0o755)
