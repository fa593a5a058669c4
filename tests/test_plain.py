"""The plain command's choices, made from a folder's images and labels."""

import dataclasses

import numpy as np
import pytest
from PIL import Image

from captcha_break.charset import Charset
from captcha_break.decoding import fold_case, greedy_decode, restrict
from captcha_break.folderfacts import FolderFacts
from captcha_break.options import parse_duration
from captcha_break.plain import plan
from captcha_break.schemes import CTC_SCHEME, POSITIONS_SCHEME
from captcha_break.train.budget import epochs_within, pace, replanned_epochs


def write(folder, name, size, colour=(0, 0, 0)):
    image = Image.new("RGB", size, "white")
    image.paste(colour, (2, 2, size[0] // 2, size[1] - 2))
    image.save(folder / name)


def choices(facts, given=None, base="general", splits=(0.1, 0.2)):
    return {c.option: c.value for c in plan(facts, 48, 8, given or {}, base, splits)}


def test_a_set_of_one_size_in_gray_is_stretched_and_read_in_gray(tmp_path):
    for i, label in enumerate(["1234", "5678", "0000", "4321"]):
        write(tmp_path, f"{label}_{i}.png", (120, 40))
    chosen = choices(FolderFacts.read(tmp_path))
    assert chosen["fit"] == "stretch" and chosen["channels"] == 1
    assert chosen["chars"] == "012345678"
    assert chosen["input_width"] == 192  # aspect 3 at height 48 (144), stretched to 6 frames for each of 4 digits
    assert chosen["init"] == "general" and chosen["schedule"] == "onecycle"


def test_thin_coloured_strokes_on_white_are_colour(tmp_path):
    for i, label in enumerate(["AB12", "CD34", "EF56"]):
        image = Image.new("RGB", (200, 50), "white")
        image.paste((40, 160, 220), (20 + 40 * i, 10, 23 + 40 * i, 40))  # a 3-pixel coloured stroke: 1% of the image
        image.save(tmp_path / f"{label}.png")
    assert choices(FolderFacts.read(tmp_path))["channels"] == 3


def test_varying_widths_long_labels_and_colour(tmp_path):
    for i, (label, width) in enumerate([("AB", 100), ("ABCDEFGH", 400), ("XYZW", 200)]):
        write(tmp_path, f"{label}-{i}.png", (width, 50), colour=(220, 30, 30))
    facts = FolderFacts.read(tmp_path)
    chosen = choices(facts)
    assert chosen["fit"] == "pad" and chosen["channels"] == 3
    assert chosen["input_width"] >= (2 * 8 + 2) * 8  # two frames a character for 8 characters


def test_a_padded_set_is_as_wide_as_its_wide_images_not_its_median_one(tmp_path):
    # Mostly short labels in narrow images, a fifth long ones in wide images: the input
    # keeps the wide ones' aspect ratio (8 at height 48), where the median's (2) would squeeze them 2.7x.
    for i in range(12):
        write(tmp_path, f"{'ABCDEFGHJKLM'[i]}{'NPQRSTUVWXYZ'[11 - i]}{i:02d}-{i}.png", (100, 50))
    for i in range(3):
        write(tmp_path, f"{'XYZ'[i]}BCDEFG{i}-{i}.png", (400, 50))
    chosen = choices(FolderFacts.read(tmp_path))
    assert chosen["fit"] == "pad" and chosen["input_width"] == 8 * 48


def test_small_text_in_large_images_is_cropped_and_the_input_fits_the_text(tmp_path):
    # Text 16 px high in images 80 px high (variable_upper's text is of this kind), with a
    # line across: the set is cropped, and the input is as wide as the texts' boxes with
    # their margins (4 characters: 128x24 -> 256 at height 48), not the images' (400x80 -> 240).
    for i, label in enumerate(["AB", "ABCD", "ABC", "AB"]):
        image = Image.new("RGB", (400, 80), "white")
        image.paste((200, 30, 30), (100, 32, 100 + 30 * len(label), 48))
        image.paste((0, 0, 0), (0, 70, 400, 71))
        image.save(tmp_path / f"{label}-{i}.png")
    chosen = choices(FolderFacts.read(tmp_path))
    assert chosen["fit"] == "crop" and chosen["input_width"] == 256
    assert choices(FolderFacts.read(tmp_path), {"fit": "pad"})["input_width"] == 240  # the user's pad: the images'


def test_few_labels_train_for_enough_steps_many_for_enough_images(tmp_path):
    for i, label in enumerate(["1234", "5678", "0000", "4321"]):
        write(tmp_path, f"{label}_{i}.png", (120, 40))
    facts = FolderFacts.read(tmp_path)

    def epochs(count, given=None, splits=(0.1, 0.2)):
        return choices(dataclasses.replace(facts, count=count), given, splits=splits)["epochs"]

    assert epochs(100) == 1000  # 70 training images: 2 steps of 32 an epoch, 2,000 steps
    assert epochs(300) == 334  # 6 steps an epoch
    assert epochs(300, {"batch_size": 8}) == 77  # the user's batch: 26 steps an epoch
    assert epochs(3000) == 60  # 65 steps an epoch: the images' rule (114 epochs), capped
    assert epochs(9438) == 36  # 240,000 images of 6,606
    # the user's splits: with no test split, 270 of 300 train (8 steps an epoch), not 210
    assert epochs(300, splits=(0.1, 0.0)) == 250
    assert epochs(1000, splits=(0.1, 0.0)) == 72  # 28 steps of 900 images


def test_what_the_user_gives_is_not_chosen(tmp_path):
    for i in range(3):
        write(tmp_path, f"12{i}4.png", (100, 50))
    chosen = choices(FolderFacts.read(tmp_path), {"fit": "pad", "epochs": 3, "init": "x.pt"})
    assert "fit" not in chosen and "epochs" not in chosen and "init" not in chosen


def test_a_budget_of_20_minutes_fine_tunes_two_models_to_average(tmp_path):
    for i in range(3):
        write(tmp_path, f"12{i}4.png", (100, 50))
    facts = FolderFacts.read(tmp_path)
    assert choices(facts, {"time_budget": 1800.0})["soup"] == 2
    assert choices(facts, {"time_budget": 1200.0})["soup"] == 2
    assert "soup" not in choices(facts)  # no budget: one run, however long it takes
    assert "soup" not in choices(facts, {"time_budget": 600.0})  # shares too short for the planned epochs
    assert "soup" not in choices(facts, {"time_budget": 1800.0, "soup": 1})  # the user's
    assert "soup" not in choices(facts, {"time_budget": 1800.0, "unlabeled": "more"})  # trains two models already
    assert "soup" not in choices(facts, {"time_budget": 1800.0}, base=None)  # from nothing: nothing to line up


def test_an_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no labeled images"):
        FolderFacts.read(tmp_path)


@pytest.mark.parametrize("text,seconds", [("30m", 1800), ("1h", 3600), ("90s", 90), ("2", 120), ("1.5h", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "-5m", "0", "soon"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_epochs_within_a_budget():
    assert epochs_within(600, 0.01, 1000, 30) == 30  # 10 s an epoch: all fit
    assert epochs_within(600, 0.01, 10_000, 30) == 6
    assert epochs_within(1, 0.01, 10_000, 30) == 1  # at least one


def test_a_budget_plan_follows_the_measured_epochs():
    # 1 epoch run of 19 planned, 1,200 s left at 80 s an epoch: 15 more fit -> 16 in all
    assert replanned_epochs(1, 19, 60, 1200, 80) == 16
    # faster than the probe said: up to the ceiling (auto's plan or --epochs), never past it
    assert replanned_epochs(1, 19, 60, 1200, 40) == 31
    assert replanned_epochs(1, 19, 20, 1200, 40) == 20
    # no time for another epoch: the run ends where it is
    assert replanned_epochs(10, 12, 60, 20, 40) == 10
    assert replanned_epochs(10, 12, 60, -5, 40) == 10


def test_a_budget_plan_stays_within_the_epochs_wobble_and_is_cut_before_the_end():
    # 20 of 50 done, 310 s left at 11 s an epoch: 28.2 fit, 30 planned: within 10%, it stays
    assert replanned_epochs(20, 50, 60, 310, 11) == 50
    # 25.5 fit: 30 is too many, cut to 25 more
    assert replanned_epochs(20, 50, 60, 280, 11) == 45
    # near the end the tolerance is small: 2.18 fit, 3 planned -> 2
    assert replanned_epochs(6, 9, 12, 120, 55) == 8
    # and none on the last two: 1.95 fit, 2 planned -> 1 (squeezed to anneal in it), not
    # kept for the budget to stop before the last epoch; 0.95 fit, 1 planned -> the end
    assert replanned_epochs(7, 9, 12, 107, 55) == 8
    assert replanned_epochs(8, 9, 12, 52, 55) == 8
    # it grows by whole epochs with a quarter of one to spare: 2.31 fit, 1 planned -> 2; 2.12 -> stays
    assert replanned_epochs(7, 8, 12, 120, 52) == 9
    assert replanned_epochs(7, 8, 12, 110, 52) == 8


def test_the_pace_is_set_by_the_slower_of_training_and_loading():
    assert pace(0.002, 0.003, workers=0) == pytest.approx(0.005)  # one process does both
    assert pace(0.002, 0.003, workers=1) == 0.003  # one drawing process is the slower side
    assert pace(0.002, 0.003, workers=3) == 0.002  # three draw faster than the step trains
    assert pace(0.00005, 0.0036, workers=15) == pytest.approx(0.00024)  # a GPU: drawing limits


def test_fold_case_adds_the_two_cases():
    charset = Charset("aAb")
    # One position: a 0.3, A 0.35, b 0.35 -> case-sensitive reads "A" or "b"; folded, "A" (0.65).
    probs = np.array([[[0.0, 0.3, 0.35, 0.35]]], dtype=np.float32)
    folded, upper = fold_case(probs, charset)
    assert upper.chars == "AB"
    assert folded.shape == (1, 1, 3) and np.allclose(folded.sum(-1), 1)
    [decoded] = greedy_decode(folded, upper, POSITIONS_SCHEME)
    assert decoded.text == "A" and decoded.confidence == pytest.approx(0.65)
    digits = np.full((1, 1, 3), 1 / 3, dtype=np.float32)
    kept, same = fold_case(digits, Charset("01"))
    assert same == Charset("01") and kept is digits  # nothing to fold


def test_restrict_reads_only_the_given_characters():
    charset = Charset("0OS5")
    # Step 1: O 0.5 beats 0 0.4; step 2: blank; step 3: S 0.6 beats 5 0.3. Digits only: "05".
    probs = np.array([[[0.0, 0.4, 0.5, 0.05, 0.05], [1, 0, 0, 0, 0], [0.1, 0.0, 0.0, 0.6, 0.3]]], dtype=np.float32)
    assert greedy_decode(probs, charset, CTC_SCHEME)[0].text == "OS"
    kept, digits = restrict(probs, charset, "05")
    assert digits.chars == "05" and np.allclose(kept.sum(-1), 1)
    [decoded] = greedy_decode(kept, digits, CTC_SCHEME)
    assert decoded.text == "05" and decoded.char_probs == pytest.approx([0.4 / 0.45, 0.3 / 0.4])
    with pytest.raises(ValueError, match="cannot read 'X'"):
        restrict(probs, charset, "0X")


def test_from_nothing_the_model_is_chosen_instead_of_a_base(tmp_path):
    for i in range(3):
        write(tmp_path, f"12{i}4.png", (100, 50))
    chosen = choices(FolderFacts.read(tmp_path), base=None)
    assert chosen["model"] == "crnn_lite" and "init" not in chosen
    assert chosen["input_width"] == 144  # aspect 2 at height 48 (96), stretched at most 1.5x
    assert choices(FolderFacts.read(tmp_path), {"model": "cnn_fast"}, base=None).get("model") is None
