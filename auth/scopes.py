SCOPES = {
    "products:read": "Read your products.",
    "products:write": "Create, change and delete your products.",
    "account": "Change your profile and password, and manage your sessions.",
}
