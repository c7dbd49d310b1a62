from images.providers.base import Picture
from images.providers.local_art import draw_illustration


class LocalIllustrator:
    """The offline illustrator: deterministic Pillow drawings, no network."""

    name = "local"
    model = "bookstudio/local-watercolour"

    def generate(self, prompt: str) -> Picture:
        return Picture(data=draw_illustration(prompt), model=self.model)
