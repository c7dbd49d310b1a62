"""The "New book" form. It only gathers input: the rules of what makes a book live in
books.services.create_book, whose InvalidBook errors the view pins onto these fields."""

from django import forms
from django.conf.locale import LANG_INFO

from books import pagination
from books.services import InvalidBook

# A story at the character limit is at most four bytes per character in UTF-8; anything bigger
# cannot be a valid story, so it is refused before it is read into memory.
MAX_UPLOAD_BYTES = pagination.MAX_STORY_CHARS * 4


def _language_label(code: str) -> str:
    info = LANG_INFO.get(code) or LANG_INFO.get(f"{code}-hans") or {}
    local, english = info.get("name_local"), info.get("name")
    if not local:
        return code
    return local if local == english else f"{local} ({english})"


LANGUAGE_CHOICES = [(code, _language_label(code)) for code in pagination.LANGUAGES]


class BookForm(forms.Form):
    # Required-ness and lengths are left to create_book, so the form and the API give the same
    # answers; the form only turns an uploaded file into text.
    title = forms.CharField(required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    story = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "placeholder": "Once upon a time…"}),
    )
    story_file = forms.FileField(
        required=False,
        label="…or upload a .txt file",
        widget=forms.ClearableFileInput(attrs={"accept": ".txt,text/plain"}),
    )
    author = forms.CharField(required=False)
    language = forms.ChoiceField(choices=LANGUAGE_CHOICES, initial="en")
    end_text = forms.CharField(
        required=False, label="End page text", help_text="Leave empty for the language's usual “The End”."
    )
    style = forms.CharField(
        required=False,
        label="Illustration style",
        help_text="For example: soft watercolour, warm colours, gentle light.",
    )

    def clean_story_file(self):
        upload = self.cleaned_data.get("story_file")
        if not upload:
            return None
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; a story file can be at most {MAX_UPLOAD_BYTES:,} bytes."
            )
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            message = "This file is not UTF-8 text. Save it as UTF-8 plain text and try again."
            raise forms.ValidationError(message) from None

    def clean(self):
        data = super().clean()
        if data.get("story_file") and data.get("story", "").strip():
            self.add_error("story_file", "Give the story either in the text box or as a file, not both.")
        return data

    @property
    def story_from_file(self) -> bool:
        return bool(self.cleaned_data.get("story_file"))

    def book_arguments(self) -> dict[str, str]:
        """Keyword arguments for create_book, from valid form data."""
        data = self.cleaned_data
        return {
            "title": data["title"],
            "story": data["story_file"] if self.story_from_file else data["story"],
            "author": data["author"],
            "language": data["language"],
            "end_text": data["end_text"],
            "style": data["style"],
        }

    def add_service_errors(self, error: InvalidBook) -> None:
        """Show each of create_book's errors next to the field it is about."""
        from_file = self.story_from_file  # read before add_error drops fields from cleaned_data
        for field, message in error.errors.items():
            if field == "story" and from_file:
                field = "story_file"
            self.add_error(field if field in self.fields else None, message)
