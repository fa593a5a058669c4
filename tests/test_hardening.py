"""Bad input through every interface: a clear error (or a right answer), never a crash,
a hang, a silent wrong reading or lost work."""

import base64
import json
import socket
import time

import httpx
import numpy as np
import pytest
from bad_inputs import captcha, corpus, encode, gray16
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
