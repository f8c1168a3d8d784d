def parse_inventory(lines):
    stock = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        name, sep, count = line.partition(":")
        if not sep or not count.strip().isdigit():
            raise ValueError(f"line {number}: expected 'name: count', got {line!r}")
        stock[name.strip()] = int(count)
    return stock


def restock_list(stock, threshold):
    return sorted(name for name, count in stock.items() if count < threshold)
