// The sign-in page: a token that came in the address bar (the sign-in link) leaves it at once, so it
// stays out of the history, bookmarks and screenshots.
"use strict";
if (location.search) history.replaceState(null, "", "/signin");
