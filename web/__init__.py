"""The officials' web app (phone first): its pages, its sign-in and its static assets,
served by the API itself from the installed package."""
