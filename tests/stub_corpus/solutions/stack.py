class EmptyStack(Exception):
    pass


class Stack:
    def __init__(self, capacity=None):
        self.items = []
        self.capacity = capacity

    def __len__(self):
        return len(self.items)

    def is_empty(self):
        return not self.items

    def push(self, item):
        if self.capacity is not None and len(self.items) >= self.capacity:
            raise OverflowError("stack is full")
        self.items.append(item)

    def pop(self):
        if not self.items:
            raise EmptyStack("pop from an empty stack")
        return self.items.pop()

    def peek(self):
        if not self.items:
            raise EmptyStack("peek at an empty stack")
        return self.items[-1]
