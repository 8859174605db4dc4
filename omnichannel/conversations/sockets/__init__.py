"""The socket transport: the base of every product socket, the chat protocol and its writer,
and the conversation page's socket. Sockets authenticate, hand what clients send to actions,
and send rendered partials; they decide nothing themselves."""
