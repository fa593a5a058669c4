"""Bad input through every interface: a clear error (or a right answer), never a crash,
a hang, a silent wrong reading or lost work."""

import base64
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from bad_inputs import captcha, corpus, encode, gray16, many_page_tiff
from conftest import running_server
from fastapi.testclient import TestClient
from PIL import Image

from captcha_break.cli import main
from captcha_break.preprocess import ImageError, ImageTooLarge, InputSpec, to_pixels
from captcha_break.recognizer import Recognizer
from captcha_break.serve import ServeConfig, create_app

CORPUS = corpus()
IDS = [name for name, _, _ in CORPUS]


@pytest.fixture(scope="module")
def recognizer(tiny_model):
    return Recognizer.load(tiny_model["onnx"])


@pytest.fixture(scope="module")
def client(tiny_model):
    with TestClient(create_app(ServeConfig(model=str(tiny_model["onnx"])))) as c:
        yield c


@pytest.mark.parametrize("name,data,expected", CORPUS, ids=IDS)
def test_corpus_through_the_python_api(recognizer, name, data, expected):
    if expected is None:
        assert isinstance(recognizer.predict(data).text, str)
        return
    status, words = expected
    with pytest.raises(ImageTooLarge if status == 413 else ImageError, match=words):
        recognizer.predict(data)


@pytest.mark.parametrize("name,data,expected", CORPUS, ids=IDS)
def test_corpus_through_http(client, name, data, expected):
    response = client.post("/predict", content=data, headers={"content-type": "application/octet-stream"})
    if expected is None:
        assert response.status_code == 200, response.text
        return
    status, words = expected
    assert response.status_code == status and words in response.json()["detail"]


def test_corpus_through_the_command_line(tiny_model, tmp_path, capsys):
    paths = []
    for name, data, _ in CORPUS:
        paths.append(tmp_path / f"{name}.img")
        paths[-1].write_bytes(data)
    assert main(["predict", "--model", str(tiny_model["onnx"]), *map(str, paths)]) == 1  # some failed
    out, err = capsys.readouterr()
    for (name, _, expected), path in zip(CORPUS, paths):
        if expected is None:
            assert f"{path}\t" in out, name
        else:
            assert any(line.startswith(f"{path}: error:") and expected[1] in line for line in err.splitlines()), name


# --- every Pillow mode reads as its 8-bit picture ---------------------------------------------


def as_mode(image: Image.Image, mode: str) -> Image.Image:
    gray = image.convert("L")
    if mode == "I;16":
        return gray16(image)
    if mode == "I":
        return Image.fromarray(np.asarray(gray).astype(np.int32) * 257)  # 16-bit values in a 32-bit image
    if mode == "F":
        return Image.fromarray(np.asarray(gray).astype(np.float32) / 255)
    return gray.convert(mode)


@pytest.mark.parametrize("mode", ["I;16", "I", "F", "LA", "PA", "CMYK", "P", "RGBA", "1"])
def test_every_mode_reads_like_the_8bit_picture(mode):
    picture = captcha(7)
    spec = InputSpec(64, 128, 1)
    reference = to_pixels(picture.convert("L"), spec).astype(int)
    pixels = to_pixels(as_mode(picture, mode), spec).astype(int)
    # Bit depth aside, the same picture: 1-bit keeps only the shapes (dithered), the rest
    # the gray levels too. A 16-bit image read as blank white fails both.
    tolerance = 60 if mode == "1" else 2
    assert np.abs(pixels - reference).mean() < tolerance, mode
    assert pixels.std() > 10  # not a blank image


def test_a_16bit_png_file_reads_as_its_8bit_version(recognizer):
    picture = captcha(3)
    eight, sixteen = recognizer.predict([encode(picture.convert("L")), encode(gray16(picture))])
    assert sixteen.text == eight.text and sixteen.confidence == pytest.approx(eight.confidence, rel=0.05)


# --- the Python API ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item,words",
    [
        (np.zeros((0, 0)), "empty"),
        (np.zeros((10, 0, 3)), "empty"),
        (np.full((20, 40), np.nan, dtype=np.float32), "NaN"),
        (np.array([["a", "b"]]), "numbers"),
        (Image.new("RGB", (0, 0)), "empty"),
        (Image.new("L", (3000, 3000)), "too large"),
    ],
    ids=["0x0-array", "10x0-array", "nan-array", "string-array", "0x0-image", "9-megapixel-image"],
)
def test_bad_arrays_and_images_are_refused(recognizer, item, words):
    with pytest.raises(ImageError, match=words):
        recognizer.predict(item)


def test_one_bad_item_in_a_list_is_named_by_its_index(recognizer):
    good = encode(captcha())
    with pytest.raises(ImageError, match=r"item 2: .*not an image"):
        recognizer.predict([good, good, b"junk", good])


def test_the_pixel_limit_can_be_set(recognizer, monkeypatch):
    monkeypatch.setenv("CAPTCHA_BREAK_MAX_PIXELS", "1000")
    with pytest.raises(ImageTooLarge, match="1,000"):
        recognizer.predict(encode(captcha()))  # 128x64 = 8,192 pixels


# --- the HTTP service --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,words",
    [
        ("[" * 1000 + "]" * 1000, "JSON"),
        ('{"image": ' + "[" * 5000 + "]" * 5000 + "}", "JSON"),
        ('{"image": 5}', "base64"),
        ('{"image": null}', "base64"),
        ('["image"]', "image"),
        ('{"image": "@@@"}', "base64"),
        ('"just a string"', "image"),
    ],
    ids=["nested-1000", "nested-5000", "number", "null", "list", "bad-base64", "string"],
)
def test_malformed_json_is_a_4xx(client, body, words):
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500 and words in response.json()["detail"]
    assert client.get("/health").status_code == 200  # the service is still there


def test_batches_over_the_limit_and_oversized_bodies(client):
    png = encode(captcha())
    files = [("files", (f"{i}.png", png, "image/png")) for i in range(1000)]
    assert client.post("/predict/batch", files=files).status_code == 413
    assert client.post("/predict", content=b"x" * (5 * 1024 * 1024), headers={"content-type": "image/png"}).status_code == 413
    as_json = {"images": [base64.b64encode(png).decode()] * 2, "extra": {"deep": [1, 2, 3]}}
    assert client.post("/predict/batch", json=as_json).status_code == 200


def test_an_empty_api_key_is_refused():
    with pytest.raises(ValueError, match="empty"):
        ServeConfig(api_key="")
    with pytest.raises(ValueError, match="empty"):
        ServeConfig(api_key="   ")


@pytest.fixture(scope="module")
def server(tiny_model):
    """A real uvicorn process with short timeouts."""
    with running_server("--model", str(tiny_model["onnx"]), "--header-timeout", "1", "--body-timeout", "1") as port:
        yield port


def test_half_sent_headers_are_dropped(server):
    conns = []
    for _ in range(20):
        conn = socket.create_connection(("127.0.0.1", server))
        conn.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        conns.append(conn)
    time.sleep(2.5)
    for conn in conns:
        conn.settimeout(2)
        assert conn.recv(100) == b""  # closed by the server
        conn.close()


def test_a_stalled_body_gets_408(server):
    with socket.create_connection(("127.0.0.1", server)) as conn:
        conn.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
        conn.settimeout(5)
        assert b" 408 " in conn.recv(1000).split(b"\r\n")[0]


def test_a_bad_request_leaves_the_connection_usable(server):
    png = encode(captcha())
    with httpx.Client(base_url=f"http://127.0.0.1:{server}", timeout=10) as http:
        deep = http.post("/predict", content="[" * 1000 + "]" * 1000, headers={"content-type": "application/json"})
        assert deep.status_code == 400
        good = http.post("/predict", content=png, headers={"content-type": "image/png"})
        assert good.status_code == 200 and "text" in json.loads(good.text)


def test_serve_refuses_an_empty_api_key_on_the_command_line(tiny_model, capsys):
    assert main(["serve", "--model", str(tiny_model["onnx"]), "--api-key", ""]) == 2
    assert "empty" in capsys.readouterr().err


def test_connections_past_the_cap_get_503(tiny_model):
    png = encode(captcha())
    with running_server("--model", str(tiny_model["onnx"]), "--max-connections", "2") as port:
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]  # idle, but open
        try:
            time.sleep(0.3)
            response = httpx.post(f"http://127.0.0.1:{port}/predict", content=png, timeout=10)
            assert response.status_code == 503
        finally:
            for conn in held:
                conn.close()
        time.sleep(0.3)
        assert httpx.post(f"http://127.0.0.1:{port}/predict", content=png, timeout=10).status_code == 200


# --- the reliability review of 2026-12-07 ----------------------------------------------


def test_a_many_page_tiff_costs_its_first_page_only(recognizer):
    data = many_page_tiff(20_000)
    start = time.perf_counter()
    recognizer.predict(data)
    assert time.perf_counter() - start < 2.0  # counting 20,000 pages took 3 s


def test_a_big_image_under_the_limit_is_boxed_on_a_small_copy():
    from captcha_break.preprocess import text_box

    image = Image.new("RGB", (2000, 2000), "white")
    image.paste((0, 0, 0), (600, 900, 1400, 1100))  # "text" across the middle
    start = time.perf_counter()
    left, top, right, bottom = text_box(image)
    assert time.perf_counter() - start < 0.5
    assert left <= 600 <= 1400 <= right and top <= 900 <= 1100 <= bottom and bottom - top < 400


@pytest.mark.parametrize("value", ["abc", "-1", "0", "²", "1e9", "99999999999999999999"])
def test_a_junk_pixel_limit_is_an_error_not_ignored(recognizer, monkeypatch, value):
    monkeypatch.setenv("CAPTCHA_BREAK_MAX_PIXELS", value)
    with pytest.raises(ValueError, match="CAPTCHA_BREAK_MAX_PIXELS must be a whole number"):
        recognizer.predict(encode(captcha()))


def test_two_file_fields_are_a_400_that_keeps_the_connection(server):
    png = encode(captcha())
    with httpx.Client(base_url=f"http://127.0.0.1:{server}", timeout=10) as http:
        two = http.post("/predict", files=[("file", ("a.png", png, "image/png")), ("file", ("b.png", png, "image/png"))])
        assert two.status_code == 400 and "/predict/batch" in two.json()["detail"]
        assert http.post("/predict", content=png, headers={"content-type": "image/png"}).status_code == 200


def test_multipart_is_held_to_the_body_limit_even_when_its_length_lies(client):
    boundary = "xyz"
    part = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'.encode()
    big = part + b"\0" * (5 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode()

    def chunks():
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    response = client.post(
        "/predict",
        content=chunks(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}", "content-length": "100"},
    )
    assert response.status_code == 413


def test_a_trickled_body_is_cut_at_the_deadline(tiny_model):
    with running_server("--model", str(tiny_model["onnx"]), "--body-timeout", "2", "--body-deadline", "3") as port:
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n")
            start = time.monotonic()
            conn.settimeout(0.2)
            answer = b""
            while time.monotonic() - start < 8 and not answer:
                conn.sendall(b"x")  # a byte every second: never a pause of 2 s
                try:
                    answer = conn.recv(1000)
                except TimeoutError:
                    time.sleep(0.8)
            assert b" 408 " in answer.split(b"\r\n")[0] and time.monotonic() - start < 6


def test_json_of_any_case_and_a_bad_batch_item_named(client):
    png = base64.b64encode(encode(captcha())).decode()
    assert (
        client.post("/predict", content=json.dumps({"image": png}), headers={"content-type": "Application/JSON"}).status_code
        == 200
    )
    bad = client.post("/predict/batch", json={"images": [png, base64.b64encode(b"junk").decode()]})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("item 1:")


def test_arrays_of_every_dtype_read_like_the_8bit_picture(recognizer):
    eight = np.asarray(captcha().convert("L"))
    plain = recognizer.predict(eight).text
    assert recognizer.predict(eight.astype(np.uint16) * 257).text == plain  # np.asarray of a 16-bit PNG
    assert recognizer.predict(eight.astype(np.int32) * 257).text == plain
    assert recognizer.predict(np.asarray(captcha().convert("1"))).text == recognizer.predict(captcha().convert("1")).text
    with pytest.raises(ImageError, match="complex"):
        recognizer.predict(eight.astype(np.complex64))


def test_an_exif_rotated_image_reads_as_a_browser_shows_it(recognizer):
    upright = captcha()
    exif = Image.Exif()
    exif[0x0112] = 3  # "rotate 180 to show": stored upside down
    stored = encode(upright.rotate(180), "JPEG", exif=exif.tobytes(), quality=95)
    assert recognizer.predict(stored).text == recognizer.predict(encode(upright, "JPEG", quality=95)).text


def test_pipes_folders_and_huge_files_are_refused_before_reading(recognizer, tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(ImageError, match="not a regular file"):
        recognizer.predict(tmp_path / "pipe.png")  # would block forever if read
    huge = tmp_path / "huge.png"
    with huge.open("wb") as f:
        f.truncate(100 * 1024 * 1024)  # sparse: costs no disk
    with pytest.raises(ImageTooLarge, match="bytes"):
        recognizer.predict(huge)


@pytest.mark.parametrize(
    "option,value,words",
    [
        ("batch_size", 0, "--batch-size must be at least 1"),
        ("lr", float("nan"), "--lr must be a number above 0"),
        ("epochs", 0, "--epochs must be at least 1"),
        ("ema", 1.0, "--ema"),
    ],
)
def test_training_options_that_could_not_work_are_refused(option, value, words):
    from captcha_break.config import TrainConfig

    with pytest.raises(ValueError, match=words):
        TrainConfig(**{option: value})


@pytest.mark.parametrize(
    "option,value",
    [("max_body_bytes", 0), ("body_timeout", 0.0), ("header_timeout", float("nan")), ("max_connections", -5), ("threads", 0),
     ("only_chars", ""), ("api_key", " key ")],
)  # fmt: skip
def test_serve_options_that_could_not_work_are_refused(option, value):
    with pytest.raises(ValueError):
        ServeConfig(**{option: value})


def test_a_non_ascii_api_key_matches(tiny_model):
    app = create_app(ServeConfig(model=str(tiny_model["onnx"]), api_key="ключ-ü"))
    with TestClient(app) as c:
        png = encode(captcha())
        headers = {"x-api-key": "ключ-ü".encode(), "content-type": "image/png"}  # UTF-8 bytes on the wire
        assert c.post("/predict", content=png, headers=headers).status_code == 200
        assert c.post("/predict", content=png, headers={**headers, "x-api-key": "other"}).status_code == 401


def test_model_names_with_a_path_are_paths_and_long_names_are_clear(tmp_path):
    from captcha_break.assets import resolve

    with pytest.raises(FileNotFoundError, match="no model '../assets/captcha4': not a file"):
        resolve("../assets/captcha4", "onnx")  # not looked up inside the package
    with pytest.raises(FileNotFoundError, match="no model at"):
        resolve("x" * 5000, "onnx")


def test_tsv_rows_cannot_be_forged_by_file_names(tmp_path, capsys):
    name = tmp_path / "a\tFORGED\n1.png"
    name.write_bytes(encode(captcha()))
    assert main(["predict", "--model", "captcha4", str(name)]) == 0
    [row] = capsys.readouterr().out.splitlines()
    assert row.count("\t") == 2 and "a\\tFORGED\\n1.png" in row


def test_a_labels_file_keeps_a_name_that_starts_with_a_space(tmp_path):
    from captcha_break.labels import scan_folder

    (tmp_path / " lead.png").write_bytes(b"")
    (tmp_path / "pad.png").write_bytes(b"")
    (tmp_path / "labels.csv").write_text("file,label\n lead.png,AB12\npad.png ,CD34\n")
    assert sorted((p.name, label) for p, label in scan_folder(tmp_path).items) == [(" lead.png", "AB12"), ("pad.png", "CD34")]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_output_is_one_line_not_a_traceback(tmp_path, tiny_model):
    image = tmp_path / "c.png"
    image.write_bytes(encode(captcha()))
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "captcha_break", "predict", "--model", str(tiny_model["onnx"]), str(image)],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 1
    assert "No space left on device" in done.stderr and "Traceback" not in done.stderr and "Exception" not in done.stderr


def test_a_closed_pipe_ends_quietly(tmp_path, tiny_model):
    for i in range(3):
        (tmp_path / f"c{i}.png").write_bytes(encode(captcha()))
    reader = subprocess.Popen(
        [sys.executable, "-m", "captcha_break", "predict", "--model", str(tiny_model["onnx"]), str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    reader.stdout.close()  # as `| head -0` does: nobody reads
    _, err = reader.communicate(timeout=120)
    assert reader.returncode in (0, 141) and b"Traceback" not in err and b"Exception" not in err
