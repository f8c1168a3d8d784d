import pytest
from bank import Account, InsufficientFunds


def test_new_account_is_empty():
    assert Account("ann").balance == 0


def test_deposit_and_withdraw():
    account = Account("bob")
    account.deposit(100)
    account.withdraw(30)
    assert account.balance == 70


def test_overdraw():
    account = Account("cy", balance=10)
    with pytest.raises(InsufficientFunds):
        account.withdraw(20)


def test_negative_deposit():
    with pytest.raises(ValueError, match="positive"):
        Account("dee").deposit(-5)


def test_owner():
    assert Account("eve").owner == "eve"
