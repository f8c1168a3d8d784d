import re
import unicodedata


def slugify(title, separator="-", max_length=None):
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower()
    words = re.findall(r"[a-z0-9]+", text)
    slug = separator.join(words)
    if max_length is not None:
        while len(slug) > max_length and separator in slug:
            slug = slug.rsplit(separator, 1)[0]
    return slug
