// Run-time settings for the Stockroom web app. Replace this file when deploying, e.g.
//   window.STOCKROOM_API_URL = "https://api.example.com";
// When unset, the app uses VITE_API_URL from build time (default http://127.0.0.1:8000).
