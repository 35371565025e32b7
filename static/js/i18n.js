// The pages' words in the user's language: Django's JavaScript catalog (/jsi18n/, a plain script base.html
// loads before the modules) defines globalThis.django. Without it (a page opened offline before the
// catalog was ever fetched) the English text stands, never an error.
const catalog = globalThis.django;

export const gettext = (text) => (catalog ? catalog.gettext(text) : text);

export const ngettext = (singular, plural, count) =>
  catalog ? catalog.ngettext(singular, plural, count) : count === 1 ? singular : plural;

// Named placeholders, as in the Python messages: interpolate(gettext("Sending %(code)s…"), { code }).
export const interpolate = (text, values) =>
  text.replace(/%\((\w+)\)s/g, (match, name) => (name in values ? String(values[name]) : match));
