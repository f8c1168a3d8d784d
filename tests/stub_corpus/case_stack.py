import pytest
from stack import EmptyStack, Stack


@pytest.fixture
def stack():
    return Stack()


def test_new_stack_is_empty(stack):
    assert len(stack) == 0
    assert stack.is_empty()


def test_push_then_pop(stack):
    stack.push("a")
    stack.push("b")
    assert stack.pop() == "b"
    assert len(stack) == 1


def test_peek_does_not_remove(stack):
    stack.push(42)
    assert stack.peek() == 42
    assert len(stack) == 1


def test_pop_empty(stack):
    with pytest.raises(EmptyStack):
        stack.pop()


class TestCapacity:
    def test_full_stack_refuses(self):
        small = Stack(capacity=1)
        small.push(1)
        with pytest.raises(OverflowError, match="full"):
            small.push(2)
