"""Deriving a starting stub from the tests."""

from __future__ import annotations

import ast

from greenloop.stub import derive_stub


def test_stub_has_signature_and_examples_from_asserts() -> None:
    tests = (
        "import pytest\nfrom slugger import slugify\n\n"
        "def test_a():\n    assert slugify('Hello World') == 'hello-world'\n\n"
        "def test_b():\n    with pytest.raises(TypeError):\n        slugify(None)\n"
    )
    stub = derive_stub(tests, "slugger", "Make URL slugs.")
    ast.parse(stub)
    assert "def slugify(text):" in stub
    assert ">>> slugify('Hello World')\n    'hello-world'" in stub
    assert ">>> slugify(None)\n    Traceback (most recent call last):\n    TypeError" in stub
    assert stub.startswith('"""Make URL slugs.')


def test_module_import_style_and_keywords_and_classes() -> None:
    tests = (
        "import shapes\n\n"
        "def test_area():\n    assert shapes.area(2, 3, unit='cm') == 6\n\n"
        "def test_square():\n    assert shapes.Square(2).side == 2\n"
    )
    stub = derive_stub(tests, "shapes")
    ast.parse(stub)
    assert "def area(n, a, unit=None):" in stub or "def area(n, b, unit=None):" in stub
    assert "class Square:" in stub


def test_parameter_names_come_from_test_variables() -> None:
    tests = (
        "import pytest\nfrom m import f\n\n@pytest.mark.parametrize('text, expected', [('a', 'A')])\n"
        "def test_f(text, expected):\n    assert f(text) == expected\n"
    )
    assert "def f(text):" in derive_stub(tests, "m")
